import { AppPlugin } from '@grafana/data';

import { AppRoot } from './components/AppRoot';

// No lazy import(): the page is small, and the nested plugins' bundles must stay free of chunks
// (they would be fetched from the app's folder). Keeping the app eager too keeps one rule for all.
export const plugin = new AppPlugin<{}>().setRootPage(AppRoot);
