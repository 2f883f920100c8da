// Streamlit Custom Components v2 entry: called on every rerun with the newest data.
// React is mounted once per parentElement and re-rendered with each new data object.
import type { FrontendRenderer } from "@streamlit/component-v2-lib";
import flowCss from "@xyflow/react/dist/style.css?inline";
import { createRoot, type Root } from "react-dom/client";
import { Canvas } from "./Canvas";
import { installPaletteDrag } from "./palette";
import ownCss from "./style.css?inline";
import type { CanvasData, Intent } from "./types";

const roots = new WeakMap<HTMLElement | ShadowRoot, Root>();

const render: FrontendRenderer<{ intent: Intent }, CanvasData> = ({ data, setTriggerValue, parentElement }) => {
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
  const send = (intent: Intent) => setTriggerValue("intent", intent);
  root.render(<Canvas data={data} send={send} />);
  installPaletteDrag(data.palette_prefix);
  return () => {
    roots.get(parentElement)?.unmount();
    roots.delete(parentElement);
  };
};

export default render;
