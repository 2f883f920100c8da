// An edge that goes around the layers in its way. A skip connection (ResNet's shortcut, a
// U-Net's bridge) drawn as React Flow's plain curve runs straight through the layers it
// skips, hiding behind them; this one takes a lane beside them instead, so the skip reads.
import {
  BaseEdge,
  Position,
  getBezierPath,
  useStore,
  type EdgeProps,
  type InternalNode,
  type ReactFlowState,
} from "@xyflow/react";
import { memo } from "react";

const CLEARANCE = 28; // from the lane to the widest layer it passes
const BEND = 22; // the curve's reach into and out of the lane

interface Rect {
  x: number;
  y: number;
  w: number;
  h: number;
}

function rectOf(n: InternalNode): Rect {
  const { x, y } = n.internals.positionAbsolute;
  return { x, y, w: n.measured?.width ?? 0, h: n.measured?.height ?? 0 };
}

// Every edge's selector runs on every store update: built per edge, the layers' boxes cost
// O(edges x nodes) each time (most of an edit's redraw on 200 nodes). One list per nodes
// array (a move or a measurement makes a new one) is shared by all edges instead.
const rectsByNodes = new WeakMap<object, [string, Rect][]>();

function layerRects(s: ReactFlowState): [string, Rect][] {
  let rects = rectsByNodes.get(s.nodes);
  if (!rects) {
    rects = [...s.nodeLookup].map(([id, n]) => [id, rectOf(n)]);
    rectsByNodes.set(s.nodes, rects);
  }
  return rects;
}

/** Too short (or backwards) to need a lane: nothing can stand between the ends. */
function tooShortForLane(from: { x: number; y: number }, to: { x: number; y: number }, downward: boolean): boolean {
  return downward ? to.y - from.y < 4 * BEND : to.x - from.x < 4 * BEND;
}

/**
 * Where the lane runs (an x for a top-down edge, a y for a left-to-right one), or null when
 * nothing stands between the ends. Works in the flow's main axis `a` and cross axis `b`.
 */
export function laneFor(
  rects: [string, Rect][],
  ends: { source: string; target: string },
  from: { x: number; y: number },
  to: { x: number; y: number },
  downward: boolean,
): number | null {
  const a = (p: { x: number; y: number }) => (downward ? p.y : p.x);
  const b = (p: { x: number; y: number }) => (downward ? p.x : p.y);
  const [a0, a1] = [a(from), a(to)];
  if (tooShortForLane(from, to, downward)) return null;
  const lo = Math.min(b(from), b(to)) - 6;
  const hi = Math.max(b(from), b(to)) + 6;
  let far: number | null = null;
  for (const [id, r] of rects) {
    if (id === ends.source || id === ends.target) continue; // its own ends are not in the way
    const [ra, rb, la, lb] = downward ? [r.y, r.x, r.h, r.w] : [r.x, r.y, r.w, r.h];
    if (ra < a1 && ra + la > a0 && rb < hi && rb + lb > lo) far = Math.max(far ?? -Infinity, rb + lb);
  }
  return far === null ? null : far + CLEARANCE;
}

/** The path into the lane, along it and back out: [svg path, label x, label y]. */
function lanePath(sx: number, sy: number, tx: number, ty: number, lane: number, downward: boolean): [string, number, number] {
  if (downward) {
    const path =
      `M ${sx} ${sy} C ${sx} ${sy + BEND} ${lane} ${sy + BEND} ${lane} ${sy + 2 * BEND} ` +
      `L ${lane} ${ty - 2 * BEND} C ${lane} ${ty - BEND} ${tx} ${ty - BEND} ${tx} ${ty}`;
    return [path, lane, (sy + ty) / 2];
  }
  const path =
    `M ${sx} ${sy} C ${sx + BEND} ${sy} ${sx + BEND} ${lane} ${sx + 2 * BEND} ${lane} ` +
    `L ${tx - 2 * BEND} ${lane} C ${tx - BEND} ${lane} ${tx - BEND} ${ty} ${tx} ${ty}`;
  return [path, (sx + tx) / 2, lane];
}

function RoutedEdgeView(props: EdgeProps) {
  const { source, target, sourceX, sourceY, targetX, targetY, sourcePosition, targetPosition } = props;
  const downward = sourcePosition === Position.Bottom;
  // A number from the store: the edge redraws only when its lane moves.
  const lane = useStore((s) => {
    const from = { x: sourceX, y: sourceY };
    const to = { x: targetX, y: targetY };
    if (tooShortForLane(from, to, downward)) return null;
    return laneFor(layerRects(s), { source, target }, from, to, downward);
  });
  const [path, labelX, labelY] =
    lane === null
      ? getBezierPath({ sourceX, sourceY, sourcePosition, targetX, targetY, targetPosition })
      : lanePath(sourceX, sourceY, targetX, targetY, lane, downward);
  return (
    <BaseEdge
      id={props.id}
      path={path}
      labelX={labelX}
      labelY={labelY}
      label={props.label}
      labelStyle={props.labelStyle}
      labelShowBg={props.labelShowBg}
      labelBgStyle={props.labelBgStyle}
      labelBgPadding={props.labelBgPadding}
      labelBgBorderRadius={props.labelBgBorderRadius}
      markerEnd={props.markerEnd}
      style={props.style}
      interactionWidth={props.interactionWidth}
    />
  );
}

// An edge redraws only when its own props change: React Flow's wrapper re-renders it for
// reasons of its own (a store update elsewhere), and 200 edges redrawn per edit add up.
export const RoutedEdge = memo(RoutedEdgeView);
