/* Reality Engine audience screen: the full-screen button, which fades when the mouse rests. */

export function wireFullscreen(button) {
  if (!document.fullscreenEnabled) {
    button.hidden = true;
    return;
  }
  button.addEventListener("click", () => document.documentElement.requestFullscreen().catch(() => {}));
  let idle = null;
  const wake = () => {
    button.dataset.idle = "false";
    clearTimeout(idle);
    idle = setTimeout(() => { button.dataset.idle = "true"; }, 3000);
  };
  document.addEventListener("mousemove", wake);
  wake();
}
