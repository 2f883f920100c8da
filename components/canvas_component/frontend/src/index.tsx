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

const render: FrontendRenderer<{ intent: IntentBatch }, CanvasData> = ({ data, setTriggerValue, parentElement }) => {
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
  return () => {
    roots.get(parentElement)?.unmount();
    roots.delete(parentElement);
    outboxes.delete(parentElement);
  };
};

export default render;
