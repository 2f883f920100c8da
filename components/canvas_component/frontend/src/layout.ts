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

/** Node id -> top-left position, laid out top-down (DOWN) or left-to-right (RIGHT). */
export async function elkPositions(
  nodes: Sized[],
  edges: { id: string; source: string; target: string }[],
  direction: Direction,
): Promise<Record<string, [number, number]>> {
  const graph: ElkNode = {
    id: "root",
    layoutOptions: {
      "elk.algorithm": "layered",
      "elk.direction": direction,
      "elk.layered.spacing.nodeNodeBetweenLayers": "48",
      "elk.spacing.nodeNode": "36",
      "elk.layered.nodePlacement.strategy": "BRANDES_KOEPF",
      "elk.layered.considerModelOrder.strategy": "NODES_AND_EDGES",
    },
    children: nodes.map((n) => ({
      id: n.id,
      width: n.width ?? NODE_WIDTH,
      height: n.height ?? NODE_HEIGHT,
    })),
    edges: edges.map((e) => ({ id: e.id, sources: [e.source], targets: [e.target] })),
  };
  const laid = await elk.layout(graph);
  const out: Record<string, [number, number]> = {};
  for (const child of laid.children ?? []) {
    out[child.id] = [Math.round(child.x ?? 0), Math.round(child.y ?? 0)];
  }
  return out;
}
