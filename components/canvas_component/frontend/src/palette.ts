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

// The palette and My blocks live in the sidebar. Looking only there keeps each pass small,
// and leaves alone buttons elsewhere whose keys share a prefix (the block inspector's
// "block_save" is no saved block).
const SIDEBAR = '[data-testid="stSidebar"]';
let decorated: Element | null = null; // the sidebar the last pass looked in

function decorate(): void {
  const sidebar = document.querySelector(SIDEBAR);
  if (!sidebar) return;
  decorated = sidebar;
  decorateKeyed(sidebar, currentPrefix, "layerType");
  decorateKeyed(sidebar, BLOCK_PREFIX, "block");
}

// Run per mutation over the whole page, a pass cost 5-10 ms per canvas edit on 200 nodes
// (every node redraw is a mutation). So only a change in the sidebar (or a new sidebar)
// asks for one, and those are folded into one pass per frame.
function decorateSoon(): void {
  if (decorating) return;
  decorating = true;
  window.requestAnimationFrame(() => {
    decorating = false;
    decorate();
  });
}

function touchesPalette(records: MutationRecord[]): boolean {
  const sidebar = document.querySelector(SIDEBAR);
  if (!sidebar) return false;
  return sidebar !== decorated || records.some((record) => sidebar.contains(record.target));
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
    if (touchesPalette(records)) decorateSoon();
  });
  observer.observe(document.body, { childList: true, subtree: true });
  document.addEventListener("dragstart", onDragStart);
}
