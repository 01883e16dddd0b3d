// The dashboard opened as a Telegram Mini App: log in with Telegram's signed initData (from
// the URL fragment), then load the overview. Nothing is stored in the browser but the session
// cookie the server sets (HttpOnly: no script can read it).
"use strict";
(async () => {
  const initData = new URLSearchParams(location.hash.slice(1)).get("tgWebAppData");
  if (!initData) return;   // an ordinary browser: the page says how to get a login link
  const status = document.getElementById("login-status");
  try {
    const response = await fetch("/dashboard/login/telegram", {
      method: "POST", credentials: "same-origin", cache: "no-store",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ init_data: initData }),
    });
    const answer = await response.json();
    if (answer.ok) { location.replace("/dashboard"); return; }
    if (status && answer.message) status.textContent = answer.message;
  } catch (error) { /* the page's own words stay */ }
})();
