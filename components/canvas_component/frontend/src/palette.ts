// Makes the sidebar's palette buttons draggable onto the canvas. The palette is drawn by
// Streamlit (st.button with key "<prefix><Type>", which Streamlit exposes as the class
// "st-key-<prefix><Type>"); a click still goes to Streamlit and inserts after the selection.

export const DRAG_MIME = "application/x-layercraft-layer";
let observer: MutationObserver | null = null;
let currentPrefix = "add_";

function decorate(root: ParentNode): void {
  root.querySelectorAll<HTMLElement>(`[class*="st-key-${currentPrefix}"]`).forEach((box) => {
    const cls = Array.from(box.classList).find((c) => c.startsWith(`st-key-${currentPrefix}`));
    const button = box.querySelector<HTMLElement>("button");
    if (!cls || !button || button.dataset.layerType) return;
    button.dataset.layerType = cls.slice(`st-key-${currentPrefix}`.length);
    button.draggable = true;
  });
}

function onDragStart(event: DragEvent): void {
  const target = event.target as HTMLElement | null;
  const item = target?.closest?.<HTMLElement>("[data-layer-type]");
  if (!item || !event.dataTransfer) return;
  event.dataTransfer.setData(DRAG_MIME, item.dataset.layerType ?? "");
  event.dataTransfer.effectAllowed = "copy";
}

/** Once per page: decorate palette buttons now and whenever Streamlit redraws them. */
export function installPaletteDrag(prefix: string): void {
  currentPrefix = prefix;
  decorate(document);
  if (observer) return;
  observer = new MutationObserver(() => decorate(document));
  observer.observe(document.body, { childList: true, subtree: true });
  document.addEventListener("dragstart", onDragStart);
}
