// Jest setup provided by Grafana scaffolding (testing-library matchers, jsdom polyfills).
import './.config/jest-setup';

// jsdom has no ResizeObserver / IntersectionObserver; @grafana/ui's Combobox menu (virtualised list,
// scroll indicators) constructs both. Inert stand-ins: nothing in these tests depends on them firing.
class InertObserver {
  observe() {}
  unobserve() {}
  disconnect() {}
  takeRecords() {
    return [];
  }
}
global.ResizeObserver = global.ResizeObserver ?? InertObserver;
global.IntersectionObserver = global.IntersectionObserver ?? InertObserver;

// @grafana/ui's Combobox sizes its menu by measuring text on a canvas. jsdom has no canvas and the
// scaffold's stub returns undefined; an approximate fixed-width measure is enough for tests.
HTMLCanvasElement.prototype.getContext = function getContext() {
  return { font: '', measureText: (text) => ({ width: String(text).length * 7 }) };
};
