// Where the viewer is: the one parser of its URL. The gallery, a run page (ViewState), the compare page
// (CompareState) or the runs table (TableState); app.ts renders by the route's page and every page changes the
// URL through App.go.
import { type CompareState, formatCompare, parseCompare } from './compareState';
import { formatState, parseState, type ViewState } from './state';
import { formatTable, parseTable, type TableState } from './tableState';

export type Route =
  | { page: 'gallery' }
  | { page: 'run'; state: ViewState }
  | { page: 'compare'; state: CompareState }
  | { page: 'runs'; state: TableState };

/** The route of a URL's fragment and query (`?view=gallery` opens the gallery whatever the fragment). */
export function parseRoute(hash: string, search = ''): Route {
  const h = hash.startsWith('#') ? hash.slice(1) : hash;
  const q = h.indexOf('?');
  const path = q < 0 ? h : h.slice(0, q);
  if (new URLSearchParams(search).get('view') === 'gallery') return { page: 'gallery' };
  if (path === '/compare') return { page: 'compare', state: parseCompare(hash) };
  if (path === '/runs') return { page: 'runs', state: parseTable(hash) };
  if (path === '/run') return { page: 'run', state: parseState(hash, search) };
  return { page: 'gallery' };
}

/** The URL fragment of a route; parseRoute(formatRoute(r)) equals r. */
export function formatRoute(route: Route): string {
  if (route.page === 'compare') return formatCompare(route.state);
  if (route.page === 'run') return formatState(route.state);
  if (route.page === 'runs') return formatTable(route.state);
  return '#/gallery';
}
