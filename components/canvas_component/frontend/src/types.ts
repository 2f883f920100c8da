// What Python sends (CanvasData) and what the canvas sends back (Intent).

export type Direction = "DOWN" | "RIGHT";

export interface PortPayload {
  id: string; // handle id: in0, in1, ...
  label: string;
  spare: boolean; // the free port of a layer that takes any number of inputs
}

export interface OutPortPayload {
  id: string; // handle id: "out" (the default output) or "out:<name>"
  label: string; // the output's name: output, h_n, part1 ...
  shape: string;
}

export type NodePayload = {
  id: string;
  type: string;
  category: string;
  color: string;
  params: Record<string, unknown>; // the user's params, for copy/paste
  summary: string; // key params as text
  shape: string | null;
  param_count: string | null;
  error: string | null;
  fix: { label: string; id: string } | null;
  ports: PortPayload[];
  has_output: boolean;
  out_ports?: OutPortPayload[]; // several named outputs; absent or empty: one "out" handle
  pos: [number, number] | null;
  frozen?: boolean;
  searched?: boolean;
  tint?: string | null;
  stat?: string | null;
  block?: { name: string; layers: number }; // a collapsed composite block, not a layer
  clip?: ClipPayload; // a folded block's layers and inner edges, for copy
};

export interface ClipPayload {
  nodes: { id: string; type: string; params: Record<string, unknown>; pos: [number, number] | null }[];
  edges: { source: string; target: string; port: number; source_port?: string }[];
}

/** An edge's real layers (where a canvas end is a folded block), port and output read. */
export interface Ends {
  source: string;
  target: string;
  port?: number;
  source_port?: string | null;
}

/** A composite block: its layers, and whether the canvas shows it folded into one node. */
export interface GroupPayload {
  id: string;
  name: string;
  nodes: string[];
  collapsed: boolean;
  param_count: string;
}

export interface EdgePayload {
  id: string;
  source: string;
  target: string;
  target_port: number;
  source_handle?: string; // "out" or "out:<name>" for a named output port
  label: string;
  ends?: Ends; // the real layers, where an end is a block
}

export interface Refusal {
  seq: number;
  text: string;
  x: number;
  y: number;
}

export interface Legend {
  title: string;
  low: string;
  high: string;
  colors: string[];
}

export interface CanvasData {
  rev: number; // changes whenever the graph or the selection Python holds changes
  session: string; // the Streamlit session: rev counts up within one, from 0 in a new one
  nodes: NodePayload[];
  edges: EdgePayload[];
  groups?: GroupPayload[];
  selected: string[];
  direction: Direction;
  layout_request: number; // a new number asks the canvas to run ELK and send positions
  refusal: Refusal | null;
  legend: Legend | null;
  banner: string | null;
  live?: boolean; // a run is training: ask for a rerun every second to follow it
  live_rev: number; // a new training snapshot: refresh tints without re-seeding the graph
  height: number;
  palette_prefix: string;
  file_stem: string; // download name without extension
  ack: Ack | null; // the last intent Python applied from this canvas
}

/** Python's receipt: every intent up to `seq` from the canvas mount `client` is applied. */
export interface Ack {
  client: string;
  seq: number;
}

/** What one trigger carries: every intent Python has not acknowledged yet, in order. */
export interface IntentBatch {
  client: string;
  sent: number; // makes each trigger value distinct, so a resend is never dropped as a repeat
  intents: (Intent & { seq?: number })[];
}

export type Intent =
  | { kind: "add"; type: string; x: number; y: number }
  | { kind: "add_on_edge"; type: string; source: string; target: string; x: number; y: number }
  | { kind: "insert_after"; type: string }
  | {
      kind: "connect";
      source: string;
      target: string;
      port: number;
      source_port?: string;
      x: number;
      y: number;
    }
  | { kind: "delete"; nodes: string[]; edges: { source: string; target: string }[] }
  | { kind: "move"; positions: Record<string, [number, number]>; layout?: boolean }
  | { kind: "select"; ids: string[] }
  | {
      kind: "paste";
      nodes: { id: string; type: string; params: Record<string, unknown>; pos: [number, number] }[];
      edges: { source: string; target: string; port: number; source_port?: string }[];
      groups?: { name: string; nodes: string[]; collapsed: boolean }[];
    }
  | { kind: "tick" }
  | { kind: "undo" }
  | { kind: "redo" }
  | { kind: "fix"; node: string; fix: string }
  | { kind: "direction"; direction: Direction }
  | { kind: "group"; nodes: string[] }
  | { kind: "ungroup"; group: string }
  | { kind: "collapse"; group: string; collapsed: boolean }
  | { kind: "add_block"; block: string; x: number; y: number };
