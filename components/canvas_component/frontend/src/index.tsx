// Streamlit Custom Components v2 entry: called on every rerun with the newest data.
// React is mounted once per parentElement and re-rendered with each new data object.
import type { FrontendRenderer } from "@streamlit/component-v2-lib";
import flowCss from "@xyflow/react/dist/style.css?inline";
import { createRoot, type Root } from "react-dom/client";
import { Canvas } from "./Canvas";
import { installPaletteDrag } from "./palette";
import ownCss from "./style.css?inline";
import type { CanvasData, Intent, IntentBatch } from "./types";

const roots = new WeakMap<HTMLElement | ShadowRoot, Root>();

// A trigger value is one-shot, and a newer one replaces one the server has not read yet (a
// Delete pressed while a rerun was busy was lost that way). So every send carries all the
// intents Python has not acknowledged, each numbered; Python applies each number once and
// says in `data.ack` how far it got.
interface Outbox {
  client: string;
  seq: number;
  sent: number;
  pending: (Intent & { seq: number })[];
  trigger: (intents: IntentBatch) => void; // the newest render's setTriggerValue
  send: (intent: Intent) => void; // made once: a callback built on it never changes
}
const outboxes = new WeakMap<HTMLElement | ShadowRoot, Outbox>();

function outboxFor(parent: HTMLElement | ShadowRoot): Outbox {
  let box = outboxes.get(parent);
  if (!box) {
    const made: Outbox = {
      client: Math.random().toString(36).slice(2),
      seq: 0,
      sent: 0,
      pending: [],
      trigger: () => undefined,
      send: (intent) => made.trigger(batch(made, intent)),
    };
    box = made;
    outboxes.set(parent, box);
  }
  return box;
}

function acknowledge(box: Outbox, data: CanvasData): void {
  if (data.ack && data.ack.client === box.client) {
    const upTo = data.ack.seq;
    box.pending = box.pending.filter((i) => i.seq > upTo);
  }
}

/** A tick only asks for a rerun: it resends what is pending, or goes alone, unnumbered. */
function batch(box: Outbox, intent: Intent): IntentBatch {
  if (intent.kind !== "tick") box.pending.push({ ...intent, seq: ++box.seq });
  box.sent += 1;
  return { client: box.client, sent: box.sent, intents: box.pending.length ? [...box.pending] : [intent] };
}

// Streamlit renders each new data object after an await, and calls the cleanup of a render
// it has superseded as soon as that render returns. So an older data object can arrive after
// a newer one (the canvas then went back to the graph before a collapse), and a superseded
// render's cleanup would unmount the canvas the next render is about to use. An older
// revision of the same session is ignored, and unmounting waits a moment for a next render.
type Parent = HTMLElement | ShadowRoot;
const shown = new WeakMap<Parent, { session: string; rev: number }>();
const unmounting = new WeakMap<Parent, number>();
const UNMOUNT_GRACE_MS = 1000;

function isStale(parent: Parent, data: CanvasData): boolean {
  const last = shown.get(parent);
  return last !== undefined && last.session === data.session && data.rev < last.rev;
}

function unmountSoon(parent: Parent): void {
  const timer = window.setTimeout(() => {
    roots.get(parent)?.unmount();
    roots.delete(parent);
    outboxes.delete(parent);
    shown.delete(parent);
  }, UNMOUNT_GRACE_MS);
  unmounting.set(parent, timer);
}

const render: FrontendRenderer<{ intent: IntentBatch }, CanvasData> = ({ data, setTriggerValue, parentElement }) => {
  if (isStale(parentElement, data)) return;
  shown.set(parentElement, { session: data.session, rev: data.rev });
  window.clearTimeout(unmounting.get(parentElement));
  let root = roots.get(parentElement);
  if (!root) {
    const style = document.createElement("style");
    style.textContent = `${flowCss}\n${ownCss}`;
    const host = document.createElement("div");
    host.className = "lc-host";
    parentElement.append(style, host);
    root = createRoot(host);
    roots.set(parentElement, root);
  }
  const box = outboxFor(parentElement);
  acknowledge(box, data);
  box.trigger = (intents) => setTriggerValue("intent", intents);
  root.render(<Canvas data={data} send={box.send} />);
  installPaletteDrag(data.palette_prefix);
  return () => unmountSoon(parentElement);
};

export default render;
