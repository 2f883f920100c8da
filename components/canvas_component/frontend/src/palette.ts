// Makes the sidebar's palette buttons draggable onto the canvas. The palette is drawn by
// Streamlit (st.button with key "<prefix><Type>", which Streamlit exposes as the class
// "st-key-<prefix><Type>"); a click still goes to Streamlit and inserts after the selection.

export const DRAG_MIME = "application/x-layercraft-layer";
export const BLOCK_MIME = "application/x-layercraft-block"; // a saved block from My blocks
const BLOCK_PREFIX = "block_"; // My blocks buttons: st.button key "block_<slug>"
let observer: MutationObserver | null = null;
let currentPrefix = "add_";
let decorating = false; // a decorate is already due on the next frame

/** Gives each button keyed "<prefix><name>" the data attribute `attr` = name, draggable. */
function decorateKeyed(root: ParentNode, prefix: string, attr: "layerType" | "block"): void {
  root.querySelectorAll<HTMLElement>(`[class*="st-key-${prefix}"]`).forEach((box) => {
    const cls = Array.from(box.classList).find((c) => c.startsWith(`st-key-${prefix}`));
    const button = box.querySelector<HTMLElement>("button");
    if (!cls || !button || button.dataset[attr]) return;
    button.dataset[attr] = cls.slice(`st-key-${prefix}`.length);
    button.draggable = true;
  });
}

function decorate(root: ParentNode): void {
  decorateKeyed(root, currentPrefix, "layerType");
  decorateKeyed(root, BLOCK_PREFIX, "block");
}

// Each pass queries the whole page. Run per mutation, it cost 5-7 ms per canvas edit on 200
// nodes (every node redraw is a mutation), so changes inside the canvas are skipped and
// the rest are folded into one pass per frame.
function decorateSoon(): void {
  if (decorating) return;
  decorating = true;
  window.requestAnimationFrame(() => {
    decorating = false;
    decorate(document);
  });
}

function outsideCanvas(record: MutationRecord): boolean {
  const node = record.target;
  const element = node instanceof Element ? node : node.parentElement;
  return !element?.closest(".react-flow");
}

function onDragStart(event: DragEvent): void {
  const target = event.target as HTMLElement | null;
  const item = target?.closest?.<HTMLElement>("[data-layer-type], [data-block]");
  if (!item || !event.dataTransfer) return;
  if (item.dataset.block) event.dataTransfer.setData(BLOCK_MIME, item.dataset.block);
  else event.dataTransfer.setData(DRAG_MIME, item.dataset.layerType ?? "");
  event.dataTransfer.effectAllowed = "copy";
}

/** Once per page: decorate palette buttons now and whenever Streamlit redraws them. */
export function installPaletteDrag(prefix: string): void {
  currentPrefix = prefix;
  decorateSoon();
  if (observer) return;
  observer = new MutationObserver((records) => {
    if (records.some(outsideCanvas)) decorateSoon();
  });
  observer.observe(document.body, { childList: true, subtree: true });
  document.addEventListener("dragstart", onDragStart);
}
