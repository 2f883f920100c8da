// ELK's layered algorithm: ranks follow the data flow, edges cross as little as it can.
import ELK from "elkjs/lib/elk.bundled.js";
import type { ElkNode } from "elkjs/lib/elk-api";
import type { Direction } from "./types";

const elk = new ELK();
export const NODE_WIDTH = 200;
export const NODE_HEIGHT = 84;

export interface Sized {
  id: string;
  width?: number;
  height?: number;
}

// An expanded block is laid out as an ELK compound node, so its frame (drawn around its
// layers, with the label above) gets room of its own instead of overlapping its neighbours.
const SPACING = { "elk.layered.spacing.nodeNodeBetweenLayers": "48", "elk.spacing.nodeNode": "36" };
const FRAME_PADDING = "[top=44,left=20,bottom=20,right=20]";

export interface Frame {
  id: string;
  nodes: string[];
}

export interface Positioned {
  id: string;
  position: { x: number; y: number };
  measured?: { width?: number; height?: number };
}

const FRAME_PAD = 14; // room between an expanded block's frame and its layers

/** The rectangle drawn around an expanded block's layers (flow coordinates), or null when
 * none of them is on the canvas. The canvas and the SVG export draw the same frame. */
export function frameBox(
  members: string[],
  byId: Map<string, Positioned>,
): { left: number; top: number; width: number; height: number } | null {
  const shown = members.map((id) => byId.get(id)).filter((n): n is Positioned => !!n);
  if (!shown.length) return null;
  const left = Math.min(...shown.map((n) => n.position.x)) - FRAME_PAD;
  const top = Math.min(...shown.map((n) => n.position.y)) - FRAME_PAD;
  const right = Math.max(...shown.map((n) => n.position.x + (n.measured?.width ?? NODE_WIDTH)));
  const bottom = Math.max(...shown.map((n) => n.position.y + (n.measured?.height ?? NODE_HEIGHT)));
  return { left, top, width: right - left + FRAME_PAD, height: bottom - top + FRAME_PAD };
}

/** Node id -> top-left position, laid out top-down (DOWN) or left-to-right (RIGHT). */
export async function elkPositions(
  nodes: Sized[],
  edges: { id: string; source: string; target: string }[],
  direction: Direction,
  frames: Frame[] = [],
): Promise<Record<string, [number, number]>> {
  const sized = (n: Sized): ElkNode => ({ id: n.id, width: n.width ?? NODE_WIDTH, height: n.height ?? NODE_HEIGHT });
  const framed = new Map<string, string>();
  for (const f of frames) for (const id of f.nodes) framed.set(id, f.id);
  const compounds: ElkNode[] = frames.map((f) => ({
    id: `frame:${f.id}`,
    layoutOptions: { ...SPACING, "elk.padding": FRAME_PADDING },
    children: nodes.filter((n) => framed.get(n.id) === f.id).map(sized),
  }));
  const graph: ElkNode = {
    id: "root",
    layoutOptions: {
      "elk.algorithm": "layered",
      "elk.direction": direction,
      ...SPACING,
      "elk.layered.nodePlacement.strategy": "BRANDES_KOEPF",
      "elk.layered.considerModelOrder.strategy": "NODES_AND_EDGES",
      ...(frames.length ? { "elk.hierarchyHandling": "INCLUDE_CHILDREN" } : {}),
    },
    children: [...nodes.filter((n) => !framed.has(n.id)).map(sized), ...compounds.filter((c) => c.children?.length)],
    edges: edges.map((e) => ({ id: e.id, sources: [e.source], targets: [e.target] })),
  };
  const laid = await elk.layout(graph);
  const out: Record<string, [number, number]> = {};
  const place = (children: ElkNode[] | undefined, dx: number, dy: number) => {
    for (const child of children ?? []) {
      const x = dx + (child.x ?? 0);
      const y = dy + (child.y ?? 0);
      if (child.id.startsWith("frame:")) place(child.children, x, y);
      else out[child.id] = [Math.round(x), Math.round(y)];
    }
  };
  place(laid.children, 0, 0);
  return out;
}
