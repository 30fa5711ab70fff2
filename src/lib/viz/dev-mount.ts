// Mounts a Svelte component into a DOM node from plain JS (browser tests on the harness page import this
// through Vite, so the component and `mount` share one Svelte runtime).
import { mount, unmount, type Component } from 'svelte';

export function mountComponent<P extends Record<string, unknown>>(component: Component<P>, target: Element, props: P = {} as P): () => void {
  const app = mount(component, { target, props });
  return () => { void unmount(app); };
}
