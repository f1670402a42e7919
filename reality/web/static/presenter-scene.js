/* Reality Engine presenter console: the current and the next scene with their notes, and the clocks.
 *
 * The scene last received (and when) is this module's: the clocks run on from it between updates. */
import { byId as $ } from "./dom.js";
import { minutesSeconds as mmss } from "./format.js";

/* { draw(scene), tick(), current() }; notes[i] is the presenter's note for scene i. */
export function createSceneClock(notes, initial) {
  let scene = initial || null;
  let receivedAt = performance.now();

  function tick() {
    if (!scene) return;
    const extra = scene.running ? (performance.now() - receivedAt) / 1000 : 0;
    const sceneTime = scene.scene_elapsed + extra;
    $("show-timer").textContent = mmss(scene.show_elapsed + extra) + " / " + mmss(scene.show_seconds);
    $("scene-timer").textContent = mmss(sceneTime) + " / " + mmss(scene.scene.seconds);
    document.body.dataset.overtime = String(sceneTime > scene.scene.seconds);
    document.body.dataset.running = String(scene.running);
  }

  function draw(doc) {
    scene = doc;
    receivedAt = performance.now();
    $("scene-step").textContent = doc.index + 1 + "/" + doc.count;
    $("scene-title").textContent = doc.scene.title;
    $("scene-cue").textContent = "Screen: " + doc.scene.cue;
    document.body.dataset.scene = doc.scene.key;
    $("now-title").textContent = doc.scene.title;
    $("scene-notes").textContent = notes[doc.index] || "";
    const next = doc.scenes[doc.index + 1];
    $("next-title").textContent = next ? next.title : "— the end";
    $("next-notes").textContent = next ? notes[doc.index + 1] || "" : "Thank the room. Reset before the next show.";
    $("timer-toggle").textContent = doc.running ? "Pause" : doc.show_elapsed > 0 ? "Resume" : "Start";
    tick();
  }

  return { draw, tick, current: () => scene };
}
