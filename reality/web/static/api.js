/* Reality Engine: the show's JSON API, as the pages call it. */

export async function getJson(url) {
  const response = await fetch(url, { headers: { Accept: "application/json" }, cache: "no-store" });
  if (!response.ok) throw new Error(url + " answered " + response.status);
  return response.json();
}

/* POST a JSON body; answers { status, body } and never throws (status 0: no connection). */
export async function postJson(url, body) {
  let response;
  try {
    response = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify(body || {}),
      credentials: "same-origin",
    });
  } catch (error) {
    return { status: 0, body: { message: "No connection to the show: check the Wi-Fi and try again." } };
  }
  let data = {};
  try {
    data = await response.json();
  } catch (error) {
    data = { message: "Unexpected answer from the server (" + response.status + ")." };
  }
  return { status: response.status, body: data };
}
