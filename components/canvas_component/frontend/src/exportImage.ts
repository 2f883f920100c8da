// The canvas as a standalone SVG (and a PNG drawn from it): boxes, labels and edges only,
// no controls, minimap or selection, for slides and papers.
import type { Edge } from "@xyflow/react";
import type { LayerFlowNode } from "./LayerNode";
import { frameBox, NODE_HEIGHT, NODE_WIDTH } from "./layout";
import type { Direction, GroupPayload } from "./types";

const PAD = 24;
const FRAME_LABEL = 26; // the block's name sits above its frame, as on the canvas

function esc(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
}

/** Dashed frames with the block's name above, for the expanded blocks (drawn first, beneath). */
function frameParts(groups: GroupPayload[], nodes: LayerFlowNode[]): { boxes: Box[]; draw: (minX: number, minY: number) => string[] } {
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const framed = groups
    .filter((g) => !g.collapsed)
    .map((g) => ({ g, box: frameBox(g.nodes, byId) }))
    .filter((f): f is { g: GroupPayload; box: NonNullable<ReturnType<typeof frameBox>> } => f.box !== null);
  return {
    // The label's room counts toward the drawing's extent.
    boxes: framed.map(({ box }) => ({ x: box.left, y: box.top - FRAME_LABEL, w: box.width, h: box.height + FRAME_LABEL })),
    draw: (minX, minY) =>
      framed.flatMap(({ g, box }) => {
        const x = box.left - minX;
        const y = box.top - minY;
        return [
          `<rect x="${x}" y="${y}" width="${box.width}" height="${box.height}" rx="10" fill="#495057" fill-opacity="0.04" stroke="#868e96" stroke-width="1.5" stroke-dasharray="6 4"/>`,
          `<text x="${x + 8}" y="${y - 9}" font-size="12" fill="#343a40"><tspan font-weight="600">▣ ${esc(g.name)}</tspan><tspan dx="8" fill="#868e96">${g.nodes.length} layers · ${esc(g.param_count)} params</tspan></text>`,
        ];
      }),
  };
}

export function canvasSvg(nodes: LayerFlowNode[], edges: Edge[], direction: Direction, groups: GroupPayload[] = []): string {
  const boxes = new Map<string, Box>();
  for (const n of nodes) {
    boxes.set(n.id, {
      x: n.position.x,
      y: n.position.y,
      w: n.measured?.width ?? NODE_WIDTH,
      h: n.measured?.height ?? NODE_HEIGHT,
    });
  }
  const frames = frameParts(groups, nodes);
  const all = [...boxes.values(), ...frames.boxes];
  const minX = Math.min(...all.map((b) => b.x)) - PAD;
  const minY = Math.min(...all.map((b) => b.y)) - PAD;
  const width = Math.max(...all.map((b) => b.x + b.w)) - minX + PAD;
  const height = Math.max(...all.map((b) => b.y + b.h)) - minY + PAD;
  const parts: string[] = frames.draw(minX, minY);
  for (const e of edges) {
    const s = boxes.get(e.source);
    const t = boxes.get(e.target);
    if (!s || !t) continue;
    const drawn = renderedPath(e.id);
    if (drawn) {
      // The canvas's own route (in flow coordinates), so a skip keeps its lane beside the layers.
      parts.push(
        `<path d="${esc(drawn)}" transform="translate(${-minX} ${-minY})" fill="none" stroke="#8a94a6" stroke-width="1.5" marker-end="url(#arrow)"/>`,
      );
      continue;
    }
    const [x1, y1, x2, y2] =
      direction === "DOWN"
        ? [s.x + s.w / 2, s.y + s.h, t.x + t.w / 2, t.y]
        : [s.x + s.w, s.y + s.h / 2, t.x, t.y + t.h / 2];
    parts.push(
      `<line x1="${x1 - minX}" y1="${y1 - minY}" x2="${x2 - minX}" y2="${y2 - minY}" stroke="#8a94a6" stroke-width="1.5" marker-end="url(#arrow)"/>`,
    );
  }
  for (const n of nodes) {
    const b = boxes.get(n.id)!;
    const x = b.x - minX;
    const y = b.y - minY;
    const d = n.data;
    const lines = [d.summary, d.error ? `⚠ ${d.error}` : [d.shape, d.param_count ? `${d.param_count} params` : ""].filter(Boolean).join(" · ")]
      .filter(Boolean)
      .map((text, i) => `<text x="${x + 10}" y="${y + 40 + i * 16}" font-size="11" fill="${d.error ? "#b3261e" : "#4a5568"}">${esc(fit(text))}</text>`);
    parts.push(
      `<rect x="${x}" y="${y}" width="${b.w}" height="${b.h}" rx="8" fill="${d.error ? "#fde8e8" : "#ffffff"}" stroke="#c9d3e0"/>`,
      `<rect x="${x}" y="${y}" width="5" height="${b.h}" rx="2" fill="${esc(d.color)}"/>`,
      `<text x="${x + 10}" y="${y + 20}" font-size="13" font-weight="600" fill="#1a202c">${esc(d.block ? `▣ ${d.block.name}` : d.type)} <tspan font-weight="400" fill="#718096">${esc(d.id)}</tspan></text>`,
      ...lines,
    );
  }
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${Math.ceil(width)}" height="${Math.ceil(height)}" ` +
    `viewBox="0 0 ${Math.ceil(width)} ${Math.ceil(height)}" font-family="Helvetica, Arial, sans-serif">` +
    `<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#8a94a6"/></marker></defs>` +
    `<rect width="100%" height="100%" fill="#ffffff"/>${parts.join("")}</svg>`
  );
}

/** The path the canvas draws for an edge, when it is on the page. */
function renderedPath(id: string): string | null {
  const el = document.querySelector(`.react-flow__edge[data-id="${CSS.escape(id)}"] .react-flow__edge-path`);
  return el?.getAttribute("d") ?? null;
}

/** Cut to what fits a node's width at 11px, marked with an ellipsis as on the canvas. */
function fit(text: string, chars = 32): string {
  return text.length > chars ? `${text.slice(0, chars - 1)}…` : text;
}

function save(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  a.click();
  window.setTimeout(() => URL.revokeObjectURL(url), 1000);
}

export function downloadSvg(svg: string, stem: string): void {
  save(new Blob([svg], { type: "image/svg+xml" }), `${stem}.svg`);
}

/** PNG at twice the SVG's size, so labels stay sharp on slides. */
export function downloadPng(svg: string, stem: string): void {
  const img = new Image();
  img.onload = () => {
    const canvas = document.createElement("canvas");
    canvas.width = img.width * 2;
    canvas.height = img.height * 2;
    const ctx = canvas.getContext("2d")!;
    ctx.scale(2, 2);
    ctx.drawImage(img, 0, 0);
    canvas.toBlob((blob) => blob && save(blob, `${stem}.png`), "image/png");
  };
  img.src = `data:image/svg+xml;charset=utf-8,${encodeURIComponent(svg)}`;
}
