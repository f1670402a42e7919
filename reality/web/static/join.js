/* Reality Engine: the join box's address under the QR code (the QR itself is an <img> the server draws). */

/* The phone address without its scheme, breakable only after . / : and - (never inside a word). */
export function drawJoinAddress(node) {
  const short = node.textContent.trim().replace(/^https?:\/\//, "");
  node.textContent = "";
  for (const part of short.split(/(?<=[./:-])/)) {
    node.append(document.createTextNode(part), document.createElement("wbr"));
  }
}
