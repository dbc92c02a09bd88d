/*
 * Extends create-plugin's webpack config (.config/ stays unedited, as create-plugin documents).
 *
 * Why: the design card keeps the app's plugin.json at the repository root, as the one source that
 * ends up in dist/. create-plugin's tooling reads `src/plugin.json` (for the id, logos and for
 * getEntries(), which pairs each plugin.json with its sibling module.ts), so `src/plugin.json` is a
 * symlink to `../plugin.json`, and here the copy patterns are replaced so that:
 *  - dist/plugin.json comes from the root plugin.json;
 *  - the nested manifests (src/datasource/plugin.json, src/panels/topology/plugin.json) land beside
 *    their module.js (dist/datasource/, dist/panels/topology/), where Grafana finds them by walking dist/;
 *  - only manifests, images and docs are copied. create-plugin's default copies every `src/**\/*.json`,
 *    which would ship anything else that happens to be JSON in src/.
 */
import CopyWebpackPlugin from 'copy-webpack-plugin';
import type { Configuration } from 'webpack';
import { merge } from 'webpack-merge';

import grafanaConfig, { type Env } from './.config/webpack/webpack.config';

const copyPatterns = [
  { from: '../plugin.json', to: 'plugin.json' },
  // At least one folder deep: the nested plugins' manifests, never src/plugin.json (the symlink).
  { from: '*/**/plugin.json', to: '.' },
  { from: '**/img/**/*', to: '.' },
  { from: 'README.md', to: '.' },
  { from: '../LICENSE', to: '.', noErrorOnMissing: true },
  { from: '../CHANGELOG.md', to: '.', noErrorOnMissing: true },
];

const config = async (env: Env): Promise<Configuration> => {
  const baseConfig = await grafanaConfig(env);
  const merged = merge(baseConfig, {});
  merged.plugins = [
    ...(merged.plugins ?? []).filter((plugin) => !(plugin instanceof CopyWebpackPlugin)),
    new CopyWebpackPlugin({ patterns: copyPatterns }),
  ];
  return merged;
};

export default config;
