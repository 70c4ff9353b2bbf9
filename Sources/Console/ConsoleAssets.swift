/// The console's stylesheet and script, kept in the repo and served from memory: nothing comes from a CDN and
/// there is no build step.
enum ConsoleAssets {
    /// Phase colours: the same in cells, legends and tables.
    static let css = """
        :root {
          --planned: #9aa5b1; --powering: #f0b429; --pxe: #8e6cef; --downloading: #2f80ed;
          --installing: #00a3c4; --services: #7ed6a0; --ready: #1e9e54; --stalled: #f2994a;
          --failed: #d64545; --decommissioned: #52606d; --unknown: #bcc5cf;
          --ink: #1f2933; --muted: #616e7c; --line: #d9e2ec; --paper: #f5f7fa;
        }
        * { box-sizing: border-box; }
        body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--ink);
               background: var(--paper); }
        header nav { display: flex; gap: 1.2em; align-items: baseline; padding: .7em 1.5em; background: #102a43; }
        header nav a { color: #bcccdc; text-decoration: none; }
        header nav a.active, header nav a:hover { color: #fff; }
        .brand { color: #fff; font-weight: 600; margin-right: 1em; }
        main { padding: 1em 1.5em 2em; }
        footer { padding: .5em 1.5em 1.5em; color: var(--muted); font-size: 12px; }
        h1 { font-size: 20px; margin: .2em 0 .6em; }
        h2 { font-size: 16px; margin: 1.4em 0 .5em; }
        a { color: #1f5fbf; }
        code, .mono { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 12.5px; }
        table { border-collapse: collapse; background: #fff; margin: .3em 0 1em; }
        th, td { border: 1px solid var(--line); padding: .3em .6em; text-align: left; vertical-align: top; }
        th { background: #eef2f7; font-weight: 600; }
        .summary { display: flex; flex-wrap: wrap; gap: .6em 2em; margin-bottom: 1em; }
        .summary div { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: .5em .8em; }
        .summary .label { color: var(--muted); font-size: 12px; display: block; }
        .racks { display: flex; flex-wrap: wrap; gap: 1em; }
        .rack { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: .7em; width: 24em; }
        .rack.suspended { border: 2px dashed var(--stalled); }
        .rack h2 { margin: 0 0 .5em; display: flex; justify-content: space-between; }
        .cells { display: grid; grid-template-columns: repeat(4, 1fr); gap: 4px; }
        .cell { position: relative; display: block; height: 3.6em; border-radius: 4px; overflow: hidden;
                color: #102a43; text-decoration: none; font-size: 11px; padding: 2px 4px;
                background: var(--unknown); }
        .cell .name { position: relative; font-weight: 600; display: block; white-space: nowrap;
                      overflow: hidden; text-overflow: ellipsis; }
        .cell .phase { position: relative; display: block; }
        .cell .bar { position: absolute; left: 0; bottom: 0; top: 0; background: rgba(255,255,255,.45); }
        .phase-planned { background: var(--planned); } .phase-powering { background: var(--powering); }
        .phase-pxe { background: var(--pxe); color: #fff; }
        .phase-downloading { background: var(--downloading); color: #fff; }
        .phase-installing { background: var(--installing); color: #fff; }
        .phase-services { background: var(--services); }
        .phase-ready { background: var(--ready); color: #fff; } .phase-stalled { background: var(--stalled); }
        .phase-failed { background: var(--failed); color: #fff; }
        .phase-decommissioned { background: var(--decommissioned); color: #fff; }
        .phase-unknown { background: var(--unknown); }
        .legend { display: flex; flex-wrap: wrap; gap: .4em 1.2em; margin: .4em 0 1em; font-size: 12px; }
        .legend .swatch { display: inline-block; width: 9px; height: 9px; border-radius: 2px; margin-right: .35em; }
        .badge { border-radius: 4px; padding: .05em .45em; font-size: 11px; background: #eef2f7; }
        .pill { border-radius: 4px; padding: .1em .5em; font-size: 12px; }
        .destructive { color: var(--failed); font-weight: 600; }
        .drift, .error { color: var(--failed); }
        .ok { color: var(--ready); }
        .muted { color: var(--muted); }
        button.action { font: inherit; font-size: 12px; padding: .15em .6em; border-radius: 4px;
                        border: 1px solid #829ab1; background: #fff; cursor: pointer; }
        #action-result { margin-left: 1em; color: var(--muted); }
        svg.chart { background: #fff; border: 1px solid var(--line); }
        svg.chart .download { stroke: var(--downloading); fill: none; stroke-width: 2; }
        svg.chart .upload { stroke: var(--stalled); fill: none; stroke-width: 2; }
        svg.chart .axis { stroke: #9aa5b1; stroke-width: 1; }
        svg.chart text { font-size: 10px; fill: var(--muted); }
        svg.chart text.legend-download { fill: var(--downloading); font-weight: 600; }
        svg.chart text.legend-upload { fill: var(--stalled); font-weight: 600; }
        """

    /// Live updates by polling: every few seconds the page asks for its own URL with `fragment=main`
    /// and swaps the main section. Buttons with `data-post` send an authenticated POST with the operator's token,
    /// kept for the browser session only.
    static let javaScript = #"""
        "use strict";
        (function () {
          const main = document.getElementById("main");
          const status = document.getElementById("live-status");
          const seconds = Number(main && main.dataset.live) || 5;

          async function refresh() {
            if (document.hidden || !main) return;
            try {
              const url = new URL(location.href);
              url.searchParams.set("fragment", "main");
              const response = await fetch(url, { cache: "no-store" });
              if (!response.ok) throw new Error("HTTP " + response.status);
              main.innerHTML = await response.text();
              if (status) status.textContent = "live: updated " + new Date().toLocaleTimeString();
            } catch (error) {
              if (status) status.textContent = "live: update failed (" + error.message + "), retrying";
            }
          }
          setInterval(refresh, seconds * 1000);

          document.addEventListener("click", async function (event) {
            const button = event.target.closest("button[data-post]");
            if (!button) return;
            if (button.dataset.confirm && !confirm(button.dataset.confirm)) return;
            let token = sessionStorage.getItem("rackswarm-token");
            if (!token) {
              token = prompt("Operator token (from the console's token file):");
              if (!token) return;
            }
            const response = await fetch(button.dataset.post, {
              method: "POST", headers: { "Authorization": "Bearer " + token }
            });
            let message = "HTTP " + response.status;
            try { message = (await response.json()).message || message; } catch (_) {}
            if (response.status === 401) sessionStorage.removeItem("rackswarm-token");
            else sessionStorage.setItem("rackswarm-token", token);
            alert(message);
            refresh();
          });
        })();
        """#
}
