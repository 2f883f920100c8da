// The graph editor. Python owns the graph: every edit leaves here as an intent, and the
// canvas only shows what Python sends back. Local state holds what is purely visual
// (selection, a drag in progress, the viewport).
import {
  Background,
  ControlButton,
  Controls,
  MiniMap,
  Panel,
  ReactFlow,
  ReactFlowProvider,
  useEdgesState,
  useNodesState,
  useReactFlow,
  ViewportPortal,
  type Connection,
  type Edge,
  type OnBeforeDelete,
  type OnSelectionChangeParams,
} from "@xyflow/react";
import { useCallback, useEffect, useRef, useState } from "react";
import { canvasSvg, downloadPng, downloadSvg } from "./exportImage";
import { LayerNode, onlyHere, type LayerFlowNode } from "./LayerNode";
import { RoutedEdge } from "./RoutedEdge";
import { NODE_HEIGHT, NODE_WIDTH, elkPositions, frameBox } from "./layout";
import { BLOCK_MIME, DRAG_MIME } from "./palette";
import type { CanvasData, EdgePayload, Ends, GroupPayload, Intent, NodePayload } from "./types";

const NODE_TYPES = { layer: LayerNode };
const EDGE_TYPES = { routed: RoutedEdge };
const MIN_READABLE_ZOOM = 0.8; // fit-view never shrinks text below this; long nets scroll
const MAX_FIT_ZOOM = 1.1;
const PASTE_OFFSET = 40;
const TOOLBAR_ROOM = 56; // a long net starts below the toolbar
const SELECT_DEBOUNCE_MS = 120;
const LIVE_TICK_MS = 1000;
const DELETE_KEYS = ["Backspace", "Delete"];
const MULTI_KEYS = ["Shift", "Control", "Meta"];
const PAN_BUTTONS = [1, 2]; // middle and right drag pan; a left drag selects
const PRO_OPTIONS = { hideAttribution: true };

type Clip = Omit<Extract<Intent, { kind: "paste" }>, "kind">;
let clipboard: Clip | null = null; // shared by every canvas on the page, like a real clipboard

type Send = (intent: Intent) => void;

export function Canvas(props: { data: CanvasData; send: Send }) {
  return (
    <ReactFlowProvider>
      <Editor {...props} />
    </ReactFlowProvider>
  );
}

/** The real layers an edge joins (on the canvas one end may be a collapsed block). */
function realEnds(e: Edge): { source: string; target: string } {
  const ends = (e.data as { ends?: Ends } | undefined)?.ends;
  return ends ? { source: ends.source, target: ends.target } : { source: e.source, target: e.target };
}

/** An edge as the clipboard keeps it: real layers, their port, the output it reads. */
function clipEdge(e: Edge, fromBlock: boolean): Clip["edges"][number] {
  const ends = (e.data as { ends?: Ends } | undefined)?.ends;
  return {
    ...realEnds(e),
    port: ends?.port ?? (Number(e.targetHandle?.slice(2)) || 0),
    source_port: fromBlock ? (ends?.source_port ?? undefined) : outputName(e.sourceHandle),
  };
}

/** A folded block's layers for the clipboard, laid out as they are, at the block's spot. */
function blockClip(n: LayerFlowNode, offset: number): Clip {
  const clip = n.data.clip!;
  const spots = clip.nodes.map((m) => m.pos ?? [0, 0]);
  const left = Math.min(...spots.map((p) => p[0]));
  const top = Math.min(...spots.map((p) => p[1]));
  return {
    nodes: clip.nodes.map((m, i) => ({
      id: m.id,
      type: m.type,
      params: m.params,
      pos: [Math.round(n.position.x + spots[i][0] - left + offset), Math.round(n.position.y + spots[i][1] - top + offset)],
    })),
    edges: clip.edges,
    groups: [{ name: n.data.block!.name, nodes: clip.nodes.map((m) => m.id), collapsed: true }],
  };
}

function toEdge(e: EdgePayload): Edge {
  return {
    id: e.id,
    type: "routed",
    data: { ends: e.ends ?? { source: e.source, target: e.target } },
    source: e.source,
    target: e.target,
    sourceHandle: e.source_handle ?? "out",
    targetHandle: `in${e.target_port}`,
    label: e.label || undefined,
    labelBgPadding: [4, 2],
    labelStyle: { fontSize: 10, fill: "#4a5568" },
    markerEnd: { type: "arrowclosed" as never, width: 16, height: 16 },
  };
}

/** The named output a source handle stands for ("out:h_n" -> "h_n"); none for "out". */
function outputName(handle: string | null | undefined): string | undefined {
  return handle?.startsWith("out:") ? handle.slice(4) : undefined;
}

/** The new list of nodes (or edges) from Python's payloads. `build` learns whether each
 * payload is the one its current object was built from, and may then keep that object:
 * React Flow redraws only objects that changed, so an edit on 200 nodes redraws a few. */
function keepUnchanged<P extends { id: string }, T extends { id: string }>(
  builtFrom: Map<string, string>,
  current: T[],
  payloads: P[],
  build: (payload: P, current: T | undefined, unchanged: boolean) => T,
): T[] {
  const byId = new Map(current.map((item) => [item.id, item]));
  const made = new Map<string, string>();
  const next = payloads.map((payload) => {
    const key = JSON.stringify(payload);
    made.set(payload.id, key);
    const old = byId.get(payload.id);
    return build(payload, old, builtFrom.get(payload.id) === key);
  });
  builtFrom.clear();
  for (const [id, key] of made) builtFrom.set(id, key);
  return next;
}

function sameIds(a: string[], b: string[]): boolean {
  return a.length === b.length && [...a].sort().join("\u0000") === [...b].sort().join("\u0000");
}

function Editor({ data, send }: { data: CanvasData; send: Send }) {
  const rf = useReactFlow<LayerFlowNode, Edge>();
  const [nodes, setNodes, onNodesChange] = useNodesState<LayerFlowNode>([]);
  const [edges, setEdges, onEdgesChange] = useEdgesState<Edge>([]);
  const wrapper = useRef<HTMLDivElement>(null);
  const seenRev = useRef<number | null>(null);
  const nodesFrom = useRef(new Map<string, string>()); // the payload each node was built from
  const edgesFrom = useRef(new Map<string, string>());
  const seenLayout = useRef<number>(0);
  const pythonSelection = useRef<string[]>([]);
  const selectTimer = useRef<number | undefined>(undefined);
  const selectPending = useRef(false); // a local selection not yet sent to Python
  const pointer = useRef({ x: 0, y: 0 });
  const [menu, setMenu] = useState<{ id: string; kind: "node" | "edge"; x: number; y: number } | null>(
    null,
  );
  const [refusal, setRefusal] = useState<CanvasData["refusal"]>(null);
  const seenRefusal = useRef<number>(-1);
  const [needsLayout, setNeedsLayout] = useState(false);
  const [needsFit, setNeedsFit] = useState(true);

  const onFix = useCallback((node: string, fix: string) => send({ kind: "fix", node, fix }), [send]);
  const onExpand = useCallback(
    (group: string) => send({ kind: "collapse", group, collapsed: false }),
    [send],
  );
  const [pickedCount, setPickedCount] = useState(0); // selected layers (blocks aside)

  const toNode = useCallback(
    (p: NodePayload, selected: Set<string>, prev?: LayerFlowNode): LayerFlowNode => ({
      id: p.id,
      type: "layer",
      position: p.pos ? { x: p.pos[0], y: p.pos[1] } : (prev?.position ?? { x: 0, y: 0 }),
      data: { ...p, direction: data.direction, onFix, onExpand },
      selected: selected.has(p.id),
      measured: prev?.measured,
    }),
    [data.direction, onFix, onExpand],
  );

  // Re-seed from Python only when its graph (or the selection it holds) changed, so a
  // rerun caused by any other widget does not wipe a drag or a selection in progress.
  useEffect(() => {
    if (seenRev.current === data.rev) return;
    seenRev.current = data.rev;
    // A click made since the last selection Python saw wins over the one Python sends, so
    // a reply to an older intent never moves the selection under the user's next key press.
    const keepLocal = selectPending.current;
    if (!keepLocal) pythonSelection.current = [...data.selected];
    const prevNodes = rf.getNodes();
    const picked = new Set(keepLocal ? prevNodes.filter((n) => n.selected).map((n) => n.id) : data.selected);
    setNodes(
      keepUnchanged(nodesFrom.current, prevNodes, data.nodes, (p, old, unchanged) =>
        old && unchanged && old.selected === picked.has(p.id) && old.data.direction === data.direction
          ? old
          : toNode(p, picked, old),
      ),
    );
    setEdges(
      keepUnchanged(edgesFrom.current, rf.getEdges(), data.edges, (e, old, unchanged) =>
        old && unchanged ? old : toEdge(e),
      ),
    );
    if (data.nodes.some((n) => n.pos === null)) setNeedsLayout(true);
    setMenu(null);
  }, [data, rf, setNodes, setEdges, toNode]);

  // Python's selection can change without a new revision (a select intent is no graph
  // edit). When it differs from what the canvas last took from Python and no local click
  // is on its way, show Python's: otherwise a node can look selected that Python dropped,
  // and clicking it again sends nothing.
  const pythonPick = data.selected.join("\u0000");
  useEffect(() => {
    if (selectPending.current || sameIds(data.selected, pythonSelection.current)) return;
    pythonSelection.current = [...data.selected];
    const picked = new Set(data.selected);
    setNodes((ns) => ns.map((n) => (n.selected === picked.has(n.id) ? n : { ...n, selected: picked.has(n.id) })));
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [pythonPick, setNodes]);

  useEffect(() => {
    if (!data.live) return;
    // A tick shares the intent trigger (a separate trigger key made Streamlit remount the
    // component); it carries any edits still unacknowledged, so it never displaces one.
    // Only a canvas on screen ticks: each tick reruns the whole page, and a hidden one (the
    // user is watching the Train tab) cost the run it followed about a fifth of its speed.
    const timer = window.setInterval(() => {
      if (wrapper.current?.checkVisibility?.() ?? wrapper.current?.offsetParent) send({ kind: "tick" });
    }, LIVE_TICK_MS);
    return () => window.clearInterval(timer);
  }, [data.live, send]);

  // A training snapshot changes only what nodes show (tint, stat), never the graph.
  const seenLive = useRef<number>(0);
  useEffect(() => {
    if (seenLive.current === data.live_rev) return;
    seenLive.current = data.live_rev;
    const byId = new Map(data.nodes.map((p) => [p.id, p]));
    setNodes((ns) =>
      ns.map((n) => {
        const p = byId.get(n.id);
        if (!p) return n;
        const tint = p.tint ?? null;
        const stat = p.stat ?? null;
        if ((n.data.tint ?? null) === tint && (n.data.stat ?? null) === stat) return n;
        return { ...n, data: { ...n.data, tint, stat } };
      }),
    );
  }, [data, setNodes]);

  // A new graph (template, upload, fresh session) comes with a new layout request.
  useEffect(() => {
    if (seenLayout.current !== data.layout_request) {
      seenLayout.current = data.layout_request;
      setNeedsLayout(true);
    }
  }, [data.layout_request]);

  useEffect(() => {
    if (data.refusal && data.refusal.seq !== seenRefusal.current) {
      seenRefusal.current = data.refusal.seq;
      setRefusal(data.refusal);
      const timer = window.setTimeout(() => setRefusal(null), 6000);
      return () => window.clearTimeout(timer);
    }
  }, [data.refusal]);

  const fitReadable = useCallback(() => {
    const el = wrapper.current;
    const current = rf.getNodes();
    if (!el || current.length === 0) return;
    const b = rf.getNodesBounds(current);
    const pad = 30;
    const w = el.clientWidth;
    const h = el.clientHeight;
    const fitZoom = Math.min((w - 2 * pad) / b.width, (h - 2 * pad) / b.height, MAX_FIT_ZOOM);
    const zoom = Math.max(fitZoom, MIN_READABLE_ZOOM);
    let x = (w - b.width * zoom) / 2 - b.x * zoom;
    let y = (h - b.height * zoom) / 2 - b.y * zoom;
    // Too big to fit at a readable size: show the start (the inputs) and let the user scroll.
    if (b.width * zoom > w - 2 * pad) x = pad - b.x * zoom;
    if (b.height * zoom > h - 2 * pad) y = TOOLBAR_ROOM - b.y * zoom;
    rf.setViewport({ x, y, zoom });
  }, [rf]);

  const runLayout = useCallback(async () => {
    const current = rf.getNodes();
    if (current.length === 0) return;
    const started = performance.now();
    const positions = await elkPositions(
      current.map((n) => ({ id: n.id, width: n.measured?.width, height: n.measured?.height })),
      rf.getEdges(),
      data.direction,
      (data.groups ?? []).filter((g) => !g.collapsed),
    );
    // Read by bench/canvas_roundtrip.py: how long ELK took for the last layout.
    (window as unknown as { layercraftLayoutMs?: number }).layercraftLayoutMs = performance.now() - started;
    setNodes((ns) =>
      ns.map((n) => (positions[n.id] ? { ...n, position: { x: positions[n.id][0], y: positions[n.id][1] } } : n)),
    );
    send({ kind: "move", positions, layout: true });
    setNeedsFit(true);
  }, [rf, data.direction, data.groups, setNodes, send]);

  // Layout and fit wait until React Flow has measured the nodes (ELK needs their sizes).
  const allMeasured = nodes.length > 0 && nodes.every((n) => n.measured?.width);
  useEffect(() => {
    if (!allMeasured) return;
    if (needsLayout) {
      setNeedsLayout(false);
      void runLayout();
    } else if (needsFit) {
      setNeedsFit(false);
      window.requestAnimationFrame(fitReadable);
    }
  }, [allMeasured, needsLayout, needsFit, runLayout, fitReadable]);

  const onSelectionChange = useCallback(
    ({ nodes: picked }: OnSelectionChangeParams) => {
      const ids = picked.map((n) => n.id);
      setPickedCount(picked.filter((n) => !n.data.block).length);
      window.clearTimeout(selectTimer.current);
      selectPending.current = false;
      if (sameIds(ids, pythonSelection.current)) return;
      selectPending.current = true;
      selectTimer.current = window.setTimeout(() => {
        selectPending.current = false;
        pythonSelection.current = ids;
        send({ kind: "select", ids });
      }, SELECT_DEBOUNCE_MS);
    },
    [send],
  );

  // Nothing is removed locally: Python deletes, then sends the graph without it.
  const onBeforeDelete: OnBeforeDelete<LayerFlowNode, Edge> = useCallback(
    async ({ nodes: gone, edges: cut }) => {
      // Selecting what is being deleted is moot: the select would only reach Python after
      // the delete and clear a selection the user makes next.
      window.clearTimeout(selectTimer.current);
      selectPending.current = false;
      const goneIds = new Set(gone.map((n) => n.id));
      const loose = cut.filter((e) => !goneIds.has(e.source) && !goneIds.has(e.target)).map(realEnds);
      if (goneIds.size || loose.length) send({ kind: "delete", nodes: [...goneIds], edges: loose });
      return false;
    },
    [send],
  );

  const onConnect = useCallback(
    (c: Connection) => {
      const port = Number((c.targetHandle ?? "in0").slice(2)) || 0;
      const at = rf.screenToFlowPosition(pointer.current);
      const source_port = outputName(c.sourceHandle);
      send({ kind: "connect", source: c.source, target: c.target, port, source_port, x: at.x, y: at.y });
    },
    [rf, send],
  );

  const onNodeDragStop = useCallback(
    (_: unknown, __: LayerFlowNode, dragged: LayerFlowNode[]) => {
      const positions: Record<string, [number, number]> = {};
      for (const n of dragged) positions[n.id] = [Math.round(n.position.x), Math.round(n.position.y)];
      send({ kind: "move", positions });
    },
    [send],
  );

  const onDragOver = useCallback((event: React.DragEvent) => {
    if (!event.dataTransfer.types.includes(DRAG_MIME)) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "copy";
  }, []);

  const onDrop = useCallback(
    (event: React.DragEvent) => {
      const type = event.dataTransfer.getData(DRAG_MIME);
      const block = event.dataTransfer.getData(BLOCK_MIME);
      if (!type && !block) return;
      event.preventDefault();
      const at = rf.screenToFlowPosition({ x: event.clientX, y: event.clientY });
      const x = Math.round(at.x - NODE_WIDTH / 2);
      const y = Math.round(at.y - NODE_HEIGHT / 2);
      if (block) {
        send({ kind: "add_block", block, x, y });
        wrapper.current?.focus();
        return;
      }
      const hit = document
        .elementsFromPoint(event.clientX, event.clientY)
        .map((el) => el.closest<HTMLElement>(".react-flow__edge"))
        .find((el) => el !== null);
      const edge = hit ? rf.getEdge(hit.dataset.id ?? "") : undefined;
      if (edge) send({ kind: "add_on_edge", type, ...realEnds(edge), x, y });
      else send({ kind: "add", type, x, y });
      wrapper.current?.focus();
    },
    [rf, send],
  );

  // The selected layers; a folded block is not a layer (it cannot be grouped again).
  const selectedNodes = useCallback(() => rf.getNodes().filter((n) => n.selected && !n.data.block), [rf]);

  // Selecting all of a block's layers shows the block in the inspector.
  const selectOnly = useCallback(
    (ids: string[]) => {
      const picked = new Set(ids);
      setNodes((ns) => ns.map((n) => (n.selected === picked.has(n.id) ? n : { ...n, selected: picked.has(n.id) })));
    },
    [setNodes],
  );

  const groupSelection = useCallback(() => {
    const picked = selectedNodes().map((n) => n.id);
    if (picked.length) send({ kind: "group", nodes: picked });
  }, [selectedNodes, send]);

  // A folded block is copied as its layers and pasted back as a folded block.
  const copySelection = useCallback(() => {
    const picked = rf.getNodes().filter((n) => n.selected);
    if (!picked.length) return;
    const ids = new Set(picked.map((n) => n.id));
    const blocks = picked.filter((n) => n.data.block && n.data.clip).map((n) => blockClip(n, PASTE_OFFSET));
    const layers = picked.filter((n) => !n.data.block);
    clipboard = {
      nodes: [
        ...layers.map((n) => ({
          id: n.id,
          type: n.data.type,
          params: n.data.params,
          pos: [Math.round(n.position.x + PASTE_OFFSET), Math.round(n.position.y + PASTE_OFFSET)] as [number, number],
        })),
        ...blocks.flatMap((b) => b.nodes),
      ],
      edges: [
        ...blocks.flatMap((b) => b.edges),
        ...rf
          .getEdges()
          .filter((e) => ids.has(e.source) && ids.has(e.target))
          .map((e) => clipEdge(e, !!rf.getNode(e.source)?.data.block)),
      ],
      groups: blocks.flatMap((b) => b.groups ?? []),
    };
  }, [rf]);

  const clearSelection = useCallback(() => {
    setNodes((ns) => ns.map((n) => (n.selected ? { ...n, selected: false } : n)));
    setEdges((es) => es.map((e) => (e.selected ? { ...e, selected: false } : e)));
    setMenu(null);
  }, [setNodes, setEdges]);

  const onKeyDown = useCallback(
    (event: React.KeyboardEvent) => {
      const target = event.target as HTMLElement;
      if (target.closest("input, textarea, select, [contenteditable=true]")) return;
      const mod = event.ctrlKey || event.metaKey;
      const key = event.key.toLowerCase();
      if (event.key === "Escape") clearSelection();
      else if (mod && key === "z" && event.shiftKey) send({ kind: "redo" });
      else if (mod && key === "y") send({ kind: "redo" });
      else if (mod && key === "z") send({ kind: "undo" });
      else if (mod && key === "c") copySelection();
      else if (mod && key === "g") groupSelection();
      else if (mod && key === "v" && clipboard) send({ kind: "paste", ...clipboard });
      else return;
      event.preventDefault();
    },
    [send, clearSelection, copySelection, groupSelection],
  );

  const deleteFromMenu = useCallback(() => {
    if (!menu) return;
    if (menu.kind === "edge") {
      const e = rf.getEdge(menu.id);
      if (e) send({ kind: "delete", nodes: [], edges: [realEnds(e)] });
    } else {
      const picked = selectedNodes().map((n) => n.id);
      send({ kind: "delete", nodes: picked.includes(menu.id) ? picked : [menu.id], edges: [] });
    }
    setMenu(null);
  }, [menu, rf, send, selectedNodes]);

  const openMenu = useCallback((kind: "node" | "edge", id: string, event: React.MouseEvent) => {
    event.preventDefault();
    const box = wrapper.current?.getBoundingClientRect();
    setMenu({ kind, id, x: event.clientX - (box?.left ?? 0), y: event.clientY - (box?.top ?? 0) });
  }, []);

  const refusalSpot = (r: NonNullable<CanvasData["refusal"]>) => {
    const at = rf.flowToScreenPosition({ x: r.x, y: r.y });
    const box = wrapper.current?.getBoundingClientRect();
    return { left: at.x - (box?.left ?? 0) + 12, top: at.y - (box?.top ?? 0) + 12 };
  };

  // Every handler given to React Flow keeps its identity across renders: React Flow hands
  // them to each node and edge wrapper, and a new one redraws all of them (on 200 nodes, most
  // of an edit's time in this bundle).
  const minimapColor = useCallback((n: LayerFlowNode) => n.data.color, []);
  const focusCanvas = useCallback(() => wrapper.current?.focus({ preventScroll: true }), []);
  const onPaneClick = useCallback(() => {
    setMenu(null);
    focusCanvas();
  }, [focusCanvas]);
  const onNodeDoubleClick = useCallback(
    (_: React.MouseEvent, n: LayerFlowNode) => (n.data.block ? onExpand(n.id) : undefined),
    [onExpand],
  );
  const onNodeContextMenu = useCallback(
    (e: React.MouseEvent, n: LayerFlowNode) => openMenu("node", n.id, e),
    [openMenu],
  );
  const onEdgeContextMenu = useCallback((e: React.MouseEvent, ed: Edge) => openMenu("edge", ed.id, e), [openMenu]);

  return (
    <div
      ref={wrapper}
      className="lc-canvas"
      tabIndex={0}
      style={{ height: data.height }}
      onKeyDown={onKeyDown}
      onMouseMove={(e) => (pointer.current = { x: e.clientX, y: e.clientY })}
      onMouseUp={(e) => (pointer.current = { x: e.clientX, y: e.clientY })}
    >
      <ReactFlow<LayerFlowNode, Edge>
        nodes={nodes}
        edges={edges}
        nodeTypes={NODE_TYPES}
        edgeTypes={EDGE_TYPES}
        onNodesChange={onNodesChange}
        onEdgesChange={onEdgesChange}
        onBeforeDelete={onBeforeDelete}
        onConnect={onConnect}
        onNodeDragStop={onNodeDragStop}
        onSelectionChange={onSelectionChange}
        onDragOver={onDragOver}
        onDrop={onDrop}
        onPaneClick={onPaneClick}
        onNodeClick={focusCanvas}
        onNodeDoubleClick={onNodeDoubleClick}
        onNodeContextMenu={onNodeContextMenu}
        onEdgeContextMenu={onEdgeContextMenu}
        deleteKeyCode={DELETE_KEYS}
        multiSelectionKeyCode={MULTI_KEYS}
        selectionOnDrag
        panOnDrag={PAN_BUTTONS}
        panOnScroll
        selectionMode={"partial" as never}
        minZoom={0.2}
        maxZoom={2}
        proOptions={PRO_OPTIONS}
      >
        <Background gap={20} size={1} />
        <ViewportPortal>
          <Frames groups={data.groups ?? []} nodes={nodes} send={send} select={selectOnly} />
        </ViewportPortal>
        <MiniMap<LayerFlowNode> pannable zoomable nodeColor={minimapColor} />
        <Controls showFitView={false}>
          <ControlButton onClick={fitReadable} title="Fit at a readable zoom">
            ⤢
          </ControlButton>
        </Controls>
        <Panel position="top-left" className="lc-toolbar">
          <button
            type="button"
            className={data.direction === "DOWN" ? "lc-on" : ""}
            title="Lay out top to bottom"
            onClick={() => send({ kind: "direction", direction: "DOWN" })}
          >
            ↓ Top-down
          </button>
          <button
            type="button"
            className={data.direction === "RIGHT" ? "lc-on" : ""}
            title="Lay out left to right"
            onClick={() => send({ kind: "direction", direction: "RIGHT" })}
          >
            → Left-right
          </button>
          <button type="button" title="Arrange with ELK" onClick={() => void runLayout()}>
            Auto-layout
          </button>
          <button
            type="button"
            className="lc-group-button"
            title="Group the selected layers into a block (Ctrl/Cmd+G)"
            disabled={pickedCount < 1}
            onClick={groupSelection}
          >
            ▣ Group
          </button>
          <button type="button" title="Download the canvas as SVG" onClick={() => downloadSvg(canvasSvg(rf.getNodes(), rf.getEdges(), data.direction, data.groups ?? []), data.file_stem)}>
            SVG
          </button>
          <button type="button" title="Download the canvas as PNG" onClick={() => downloadPng(canvasSvg(rf.getNodes(), rf.getEdges(), data.direction, data.groups ?? []), data.file_stem)}>
            PNG
          </button>
        </Panel>
        {data.banner ? (
          <Panel position="top-right" className="lc-banner">
            {data.banner}
          </Panel>
        ) : null}
        {data.legend ? (
          <Panel position="bottom-left" className="lc-legend">
            <div>{data.legend.title}</div>
            <div className="lc-legend-bar" style={{ background: `linear-gradient(to right, ${data.legend.colors.join(",")})` }} />
            <div className="lc-legend-ends">
              <span>{data.legend.low}</span>
              <span>{data.legend.high}</span>
            </div>
          </Panel>
        ) : null}
      </ReactFlow>
      {refusal ? (
        // Above the nodes (a viewport portal is drawn beneath them), at the spot of the drop.
        <div className="lc-refusal" style={refusalSpot(refusal)}>
          {refusal.text}
        </div>
      ) : null}
      {menu ? (
        <div className="lc-menu" style={{ left: menu.x, top: menu.y }}>
          <button type="button" onClick={deleteFromMenu}>
            {menu.kind === "edge" ? "Delete edge" : "Delete"}
          </button>
          {menu.kind === "node" ? (
            <button
              type="button"
              onClick={() => {
                copySelection();
                setMenu(null);
              }}
            >
              Copy
            </button>
          ) : null}
        </div>
      ) : null}
    </div>
  );
}

/** A labelled frame around each expanded block's layers, drawn beneath the nodes. */
function Frames(props: {
  groups: GroupPayload[];
  nodes: LayerFlowNode[];
  send: Send;
  select: (ids: string[]) => void;
}) {
  const { groups, nodes, send, select } = props;
  const byId = new Map(nodes.map((n) => [n.id, n]));
  return (
    <>
      {groups
        .filter((g) => !g.collapsed)
        .map((g) => {
          const box = frameBox(g.nodes, byId);
          if (!box) return null;
          return (
            <div key={g.id} className="lc-frame" data-group={g.id} style={box}>
              <div className="lc-frame-label nodrag nopan">
                <button
                  type="button"
                  className="lc-frame-name"
                  title="Select the block's layers"
                  onClick={onlyHere(() => select(g.nodes))}
                >
                  ▣ {g.name}
                </button>
                <span className="lc-frame-count">
                  {g.nodes.length} layers · {g.param_count} params
                </span>
                <button
                  type="button"
                  className="lc-collapse"
                  title="Fold the block into one node"
                  onClick={onlyHere(() => send({ kind: "collapse", group: g.id, collapsed: true }))}
                >
                  ▾ Collapse
                </button>
              </div>
            </div>
          );
        })}
    </>
  );
}
