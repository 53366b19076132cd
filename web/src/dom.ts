// A tiny helper for building DOM trees without a framework:
//   h("button", { class: "primary", onclick: save }, "Save")

type Child = Node | string | number | false | null | undefined | Child[];

type Props = {
  [key: string]: unknown;
  class?: string | Record<string, boolean>;
  dataset?: Record<string, string>;
};

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props?: Props | null,
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(props ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") {
      element.className =
        typeof value === "string"
          ? value
          : Object.entries(value as Record<string, boolean>)
              .filter(([, on]) => on)
              .map(([name]) => name)
              .join(" ");
    } else if (key === "dataset") {
      Object.assign(element.dataset, value);
    } else if (key.startsWith("on") && typeof value === "function") {
      element.addEventListener(key.slice(2), value as EventListener);
    } else if (key in element && !key.includes("-") && key !== "list" && key !== "form") {
      (element as unknown as Record<string, unknown>)[key] = value;
    } else {
      element.setAttribute(key, value === true ? "" : String(value));
    }
  }
  append(element, children);
  return element;
}

function append(parent: Node, children: Child[]) {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    if (Array.isArray(child)) append(parent, child);
    else parent.appendChild(typeof child === "object" ? child : document.createTextNode(String(child)));
  }
}

/** Replaces an element's children. */
export function mount(parent: Element, ...children: Child[]) {
  parent.replaceChildren();
  append(parent, children);
}

/**
 * Makes `children` the element's children, leaving those there already in
 * place (with their layout, focus and selection) when their order allows.
 */
export function reconcile(parent: Element, children: Element[]) {
  const kept = new Set<Node>(children);
  for (const child of [...parent.childNodes]) if (!kept.has(child)) child.remove();
  for (const [index, child] of children.entries()) {
    const there = parent.children[index];
    if (there !== child) parent.insertBefore(child, there ?? null);
  }
}

/** A `<label>` wrapping its control, so getByLabel and screen readers find it. */
export function field(label: string, control: HTMLElement, hint?: string): HTMLLabelElement {
  return h(
    "label",
    { class: "field" },
    h("span", { class: "field-label" }, label),
    control,
    hint && h("small", { class: "hint" }, hint),
  );
}

let ids = 0;
export function uniqueId(prefix: string): string {
  ids += 1;
  return `${prefix}-${ids}`;
}
