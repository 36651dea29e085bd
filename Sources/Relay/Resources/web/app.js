// Health Helper clinician UI: progressive enhancement only; every page works without it.
"use strict";

// Times in the browser's own zone (the server writes UTC).
function localiseTimes(root) {
  for (const element of root.querySelectorAll("time[datetime]")) {
    const date = new Date(element.getAttribute("datetime"));
    if (isNaN(date)) continue;
    const options = element.hasAttribute("data-date-only")
      ? { dateStyle: "medium" }
      : { dateStyle: "medium", timeStyle: "short" };
    element.textContent = date.toLocaleString(undefined, options);
  }
}

// The first page of visits shows new visits without a reload: it fetches itself every
// data-live seconds and swaps in the list and the escalations.
function keepLive() {
  const seconds = Number(document.body.dataset.live || 0);
  if (!seconds) return;
  setInterval(async () => {
    if (document.hidden) return;
    try {
      const response = await fetch(location.href, { credentials: "same-origin", headers: { Accept: "text/html" } });
      if (!response.ok || response.redirected) return;
      const page = new DOMParser().parseFromString(await response.text(), "text/html");
      for (const selector of ["#visits", ".attention"]) {
        const fresh = page.querySelector(selector), current = document.querySelector(selector);
        if (current && current.contains(document.activeElement)) continue;
        if (fresh && current) {
          if (fresh.innerHTML !== current.innerHTML) { current.replaceWith(fresh); localiseTimes(fresh); }
        } else if (fresh && !current) {
          document.querySelector("h1").after(fresh); localiseTimes(fresh);
        } else if (current && !fresh) {
          current.remove();
        }
      }
    } catch (error) { /* offline for a moment: try again next time */ }
  }, seconds * 1000);
}

document.addEventListener("DOMContentLoaded", () => {
  localiseTimes(document);
  keepLive();
});
