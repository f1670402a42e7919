/* Reality Engine: what every page's script needs from the document. */

/* An element by its id. */
export const byId = (id) => document.getElementById(id);

/* The page's initial data, rendered by the server into <script type="application/json" id="page-state">. */
export function pageState() {
  const node = byId("page-state");
  return node ? JSON.parse(node.textContent) : {};
}
