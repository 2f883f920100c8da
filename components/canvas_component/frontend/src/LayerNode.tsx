// One layer on the canvas: category colour, type and id, key params, output shape and
// parameter count, or the error in red. Text is rendered as text (never as HTML): names
// and params come from untrusted graph files.
import { Handle, Position, type Node, type NodeProps } from "@xyflow/react";
import { memo } from "react";
import type { Direction, NodePayload, OutPortPayload } from "./types";

export type LayerNodeData = NodePayload & {
  direction: Direction;
  onFix: (node: string, fix: string) => void;
  onExpand: (group: string) => void;
};
export type LayerFlowNode = Node<LayerNodeData, "layer">;

/** A click handler for a button on a node or frame: the click goes no further (it would
 * select the node or, on the pane, clear the selection). */
export function onlyHere(act: () => void): (e: React.MouseEvent) => void {
  return (e) => {
    e.stopPropagation();
    act();
  };
}

/** True for colours dark enough to need light text on them. */
function isDark(hex: string): boolean {
  const m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(hex);
  if (!m) return false;
  const [r, g, b] = m.slice(1).map((x) => parseInt(x, 16));
  return 0.299 * r + 0.587 * g + 0.114 * b < 140;
}

function portOffset(index: number, count: number): string {
  return `${((index + 1) / (count + 1)) * 100}%`;
}

/** One source handle, or one per named output (output, h_n, c_n; part0, part1 ...). */
function OutputHandles(props: { ports: OutPortPayload[]; side: Position; down: boolean }) {
  const { ports, side, down } = props;
  if (ports.length < 2) return <Handle id={ports[0]?.id ?? "out"} type="source" position={side} />;
  return (
    <>
      {ports.map((port, i) => (
        <Handle
          key={port.id}
          id={port.id}
          type="source"
          position={side}
          className="lc-port lc-port-out"
          title={`${port.label} ${port.shape}`}
          style={down ? { left: portOffset(i, ports.length) } : { top: portOffset(i, ports.length) }}
        >
          <span className="lc-port-label">{port.label}</span>
        </Handle>
      ))}
    </>
  );
}

function LayerNodeView({ data, selected }: NodeProps<LayerFlowNode>) {
  const down = data.direction === "DOWN";
  const inSide = down ? Position.Top : Position.Left;
  const outSide = down ? Position.Bottom : Position.Right;
  const classes = ["lc-node"];
  if (data.block) classes.push("lc-node-block");
  if (data.error) classes.push("lc-node-error");
  if (selected) classes.push("lc-node-selected");
  const background = data.tint ?? undefined;
  if (data.tint) classes.push(isDark(data.tint) ? "lc-node-tinted lc-node-dark" : "lc-node-tinted");
  return (
    <div className={classes.join(" ")} style={{ borderLeftColor: data.color, background }}>
      {data.ports.map((port, i) => (
        <Handle
          key={port.id}
          id={port.id}
          type="target"
          position={inSide}
          className={port.spare ? "lc-port lc-port-spare" : "lc-port"}
          style={down ? { left: portOffset(i, data.ports.length) } : { top: portOffset(i, data.ports.length) }}
        >
          {data.ports.length > 1 ? <span className="lc-port-label">{port.label}</span> : null}
        </Handle>
      ))}
      <div className="lc-node-head">
        <span className="lc-node-type" style={{ color: data.color }}>
          {data.block ? `▣ ${data.block.name}` : data.type}
        </span>
        <span className="lc-node-id">{data.id}</span>
        {data.frozen ? (
          <span className="lc-badge lc-badge-frozen" title="Frozen: not trained">
            ❄
          </span>
        ) : null}
        {data.searched ? (
          <span className="lc-badge lc-badge-searched" title="Part of the search space">
            ⚲
          </span>
        ) : null}
      </div>
      {data.summary ? <div className="lc-node-params">{data.summary}</div> : null}
      {data.error ? (
        <div className="lc-node-errtext">⚠ {data.error}</div>
      ) : data.shape ? (
        <div className="lc-node-shape">
          <code>{data.shape}</code>
          {data.param_count ? <span> · {data.param_count} params</span> : null}
        </div>
      ) : null}
      {data.stat ? <div className="lc-node-stat">{data.stat}</div> : null}
      {data.block ? (
        <button
          type="button"
          className="lc-expand nodrag"
          title="Show the block's layers"
          onClick={onlyHere(() => data.onExpand(data.id))}
        >
          ▸ Expand
        </button>
      ) : null}
      {data.fix ? (
        <button
          type="button"
          className="lc-fix nodrag"
          data-fix={data.fix.id}
          onClick={onlyHere(() => data.onFix(data.id, data.fix!.id))}
        >
          Fix: {data.fix.label}
        </button>
      ) : null}
      {data.has_output ? <OutputHandles ports={data.out_ports ?? []} side={outSide} down={down} /> : null}
    </div>
  );
}

export const LayerNode = memo(LayerNodeView);
