// The Play page and the chapters' "train it here" boxes: the book's own Rust
// code (crate pg-play, compiled to WebAssembly) trains CartPole in a Web
// Worker while this page draws the learning curve and the cart.
//
// Every element with class "pg-play" becomes a trainer. Its data attributes
// choose what is selected at first: data-algo (an --algo value) and
// data-preset (extra flags, e.g. "--batch-steps 5000"). The menu, the flags'
// help and their defaults come from generated/play-registry.js (written by
// `pg book` from the same code). The module, base64 in
// assets/play/pg_play_wasm.js (also written by `pg book`), is loaded on the
// first Train as a script rather than fetched, so that the page also works
// opened from disk (file://), where fetch is refused.
(function () {
  "use strict";

  // ---------------------------------------------------------------- worker
  // Runs in the Web Worker (its source is this function's text).
  function workerMain() {
    let module = null;
    let x = null;
    let stopping = false;
    const decoder = new TextDecoder();
    const encoder = new TextEncoder();
    const answer = () => decoder.decode(new Uint8Array(x.memory.buffer, x.pg_text_ptr(), x.pg_text_len()));
    const yieldToMessages = () =>
      new Promise((resolve) => {
        const channel = new MessageChannel();
        channel.port1.onmessage = resolve;
        channel.port2.postMessage(0);
      });

    async function instantiate(base64) {
      if (!module) {
        const binary = atob(base64);
        const bytes = new Uint8Array(binary.length);
        for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
        module = await WebAssembly.compile(bytes);
      }
      // The module's only real import is the clock; the others belong to
      // library code the run never calls, and say so if it ever did.
      const imports = {};
      for (const imp of WebAssembly.Module.imports(module)) {
        imports[imp.module] = imports[imp.module] || {};
        imports[imp.module][imp.name] = () => {
          throw new Error("the page does not provide " + imp.module + "." + imp.name);
        };
      }
      imports.pg.now_seconds = () => performance.now() / 1000;
      x = (await WebAssembly.instantiate(module, imports)).exports;
    }

    async function train(message) {
      stopping = false;
      await instantiate(message.wasm); // a fresh instance (fresh memory) for every run
      const bytes = encoder.encode(message.line);
      const ptr = x.pg_alloc(bytes.length);
      new Uint8Array(x.memory.buffer, ptr, bytes.length).set(bytes);
      const code = x.pg_start(ptr, bytes.length);
      x.pg_free(ptr, bytes.length);
      if (code !== 0) {
        postMessage({ type: "error", message: answer() });
        return;
      }
      postMessage({ type: "started", summary: JSON.parse(answer()) });
      let steps = [];
      let lastPost = performance.now();
      let lastFrames = -Infinity;
      for (;;) {
        const status = x.pg_step();
        if (status === 1) {
          postMessage({ type: "error", message: answer() });
          return;
        }
        if (status === 0) steps.push(JSON.parse(answer()));
        // The run is over when its budget is spent or (with --until-solved) it is solved.
        const finished = status === 2 || (status === 0 && steps[steps.length - 1].finished);
        const done = finished || stopping;
        const now = performance.now();
        const post = done || now - lastPost > 100;
        if (post) {
          const progress = { type: "progress", steps: steps };
          if (now - lastFrames > 1500 || done) {
            x.pg_frames();
            progress.frames = JSON.parse(answer());
            lastFrames = now;
          }
          postMessage(progress);
          steps = [];
          lastPost = now;
        }
        if (done) {
          x.pg_summary();
          postMessage({ type: "done", summary: JSON.parse(answer()), stopped: stopping && !finished });
          return;
        }
        if (post) await yieldToMessages(); // let a "stop" in
      }
    }

    onmessage = (event) => {
      const message = event.data;
      if (message.type === "stop") {
        stopping = true;
      } else if (message.type === "train") {
        train(message).catch((err) => postMessage({ type: "error", message: String(err) }));
      }
    };
  }

  // ------------------------------------------------------------ the page
  const COLOURS = { returns: "rgba(120,120,120,0.35)", mean: "#1f77b4", target: "#d62728" };
  const SOLVED = 475;
  let wasmLoading = null;

  // The module as base64 text, from a script added on first use.
  function loadWasm(root) {
    if (self.PG_PLAY_WASM) return Promise.resolve(self.PG_PLAY_WASM);
    if (!wasmLoading) {
      wasmLoading = new Promise((resolve, reject) => {
        const script = document.createElement("script");
        script.src = root + "assets/play/pg_play_wasm.js";
        script.onload = () =>
          self.PG_PLAY_WASM ? resolve(self.PG_PLAY_WASM) : reject(new Error("the module's script held no module"));
        script.onerror = () => reject(new Error("could not load " + script.src + ": rebuild the book with pg book"));
        document.head.appendChild(script);
      });
      wasmLoading.catch(() => {
        wasmLoading = null; // let a later Train try again
      });
    }
    return wasmLoading;
  }

  function element(tag, attrs, children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "text") el.textContent = v;
      else el.setAttribute(k, v);
    }
    for (const c of children || []) el.appendChild(c);
    return el;
  }

  const thousands = (n) => Math.round(n).toLocaleString("en-US");

  function Trainer(box, registry) {
    const root = box.dataset.root || "";
    const algorithms = registry.algorithms;
    const choices = [];
    for (const a of algorithms) {
      choices.push({ label: "Chapter " + a.chapter + ": " + a.title, algo: a, preset: "" });
      for (const p of a.presets) {
        choices.push({ label: "Chapter 7: " + a.title + ", " + p.name, algo: a, preset: p.flags });
      }
    }
    const wantAlgo = box.dataset.algo || registry.default.algo;
    const wantPreset = box.dataset.preset !== undefined ? box.dataset.preset : registry.default.preset;
    let selected = choices.findIndex((c) => c.algo.name === wantAlgo && c.preset === wantPreset);
    if (selected < 0) selected = Math.max(0, choices.findIndex((c) => c.algo.name === wantAlgo));

    const menu = element("select", { class: "pg-play-algo", "aria-label": "algorithm" });
    choices.forEach((c, i) => menu.appendChild(element("option", { value: String(i), text: c.label })));
    menu.value = String(selected);
    const seed = element("input", { class: "pg-play-seed", type: "number", min: "0", step: "1", value: "0" });
    const untilSolved = element("input", { type: "checkbox", class: "pg-play-until-solved", checked: "" });
    const trainButton = element("button", { class: "pg-play-train", type: "button", text: "Train" });
    const stopButton = element("button", { class: "pg-play-stop", type: "button", text: "Stop", disabled: "" });
    const knobs = element("div", { class: "pg-play-knobs" });
    const line = element("code", { class: "pg-play-line" });
    const status = element("p", { class: "pg-play-status", text: "Press Train." });
    const plot = element("div", { class: "pg-play-plot" });
    const canvas = element("canvas", { class: "pg-play-cart", width: "600", height: "240" });
    box.classList.add("pg-play-ready");
    box.append(
      element("div", { class: "pg-play-controls" }, [
        menu,
        element("label", {}, [document.createTextNode("seed "), seed]),
        element("label", {}, [untilSolved, document.createTextNode(" stop when solved")]),
        trainButton,
        stopButton,
      ]),
      element("details", { class: "pg-play-settings" }, [element("summary", { text: "Settings" }), knobs]),
      element("p", { class: "pg-play-command" }, [document.createTextNode("The same run natively: "), line]),
      status,
      element("div", { class: "pg-play-views" }, [plot, canvas])
    );

    // One input per flag of the chosen algorithm, blank for its default.
    let inputs = [];
    function showKnobs() {
      const c = choices[Number(menu.value)];
      knobs.textContent = "";
      inputs = [];
      const presetFlags = c.preset.split(/\s+/).filter((f) => f.startsWith("--"));
      const flags = c.algo.flags.filter((f) => !(c.preset && f.flag === "--batch"));
      for (const f of flags) {
        if (presetFlags.includes(f.flag)) continue;
        let input;
        if (f.choices.length) {
          input = element("select", { "data-flag": f.flag });
          input.appendChild(element("option", { value: "", text: "default (" + f.default + ")" }));
          for (const v of f.choices) input.appendChild(element("option", { value: v, text: v }));
        } else {
          const shown = f.default === null || f.default === undefined ? "none" : String(f.default);
          input = element("input", { type: "text", "data-flag": f.flag, placeholder: shown, size: "8" });
        }
        input.title = f.help;
        input.addEventListener("input", showLine);
        inputs.push(input);
        knobs.appendChild(element("label", { title: f.help }, [document.createTextNode(f.flag + " "), input]));
      }
      showLine();
    }

    // The run as pg train's flags: the algorithm, its preset, the seed, every
    // changed setting, the budget, --until-solved if asked, and one thread
    // for chapter 7's sampler (the page has one). The page trains exactly
    // these, and pg train with them computes the same bits.
    function runLine() {
      const c = choices[Number(menu.value)];
      const parts = ["--algo", c.algo.name];
      if (c.preset) parts.push(...c.preset.split(/\s+/));
      parts.push("--seed", seed.value.trim() || "0");
      for (const input of inputs) {
        const v = input.value.trim().replace(/\s+/g, "");
        if (v === '""') parts.push(input.dataset.flag + "="); // e.g. --hidden "" for a linear policy
        else if (v) parts.push(input.dataset.flag, v);
        else if (input.dataset.flag === "--max-env-steps") parts.push("--max-env-steps", input.placeholder);
      }
      if (untilSolved.checked) parts.push("--until-solved");
      if (parts.includes("--batch-steps")) parts.push("--threads", "1");
      return parts.join(" ");
    }

    function showLine() {
      line.textContent = "pg train " + runLine();
    }

    menu.addEventListener("change", showKnobs);
    seed.addEventListener("input", showLine);
    untilSolved.addEventListener("change", showLine);
    showKnobs();

    // ---- the learning curve
    function newPlot() {
      const layout = {
        margin: { l: 50, r: 10, t: 30, b: 45 },
        title: { text: "Return per episode", font: { size: 14 } },
        xaxis: { title: { text: "environment steps" } },
        yaxis: { title: { text: "return" }, range: [0, 520] },
        legend: { orientation: "h", y: -0.25 },
        shapes: [{ type: "line", xref: "paper", x0: 0, x1: 1, y0: SOLVED, y1: SOLVED, line: { color: COLOURS.target, dash: "dash", width: 1 } }],
        height: 300,
      };
      const traces = [
        { name: "episode", x: [], y: [], mode: "markers", type: "scatter", marker: { size: 3, color: COLOURS.returns } },
        { name: "mean of the last 100", x: [], y: [], mode: "lines", line: { color: COLOURS.mean, width: 2 } },
      ];
      Plotly.newPlot(plot, traces, layout, { responsive: true, displayModeBar: false });
    }

    // ---- the cart
    let frames = [[0, 0]]; // the cart at rest, until the first episode arrives
    let frame = 0;
    let animating = false;
    function draw() {
      const ctx = canvas.getContext("2d");
      const w = canvas.width;
      const h = canvas.height;
      ctx.clearRect(0, 0, w, h);
      const scale = w / 5.2; // the track runs from x = -2.4 to 2.4 (and a margin)
      const ground = h * 0.75;
      ctx.strokeStyle = "#888";
      ctx.beginPath();
      ctx.moveTo(0, ground);
      ctx.lineTo(w, ground);
      ctx.stroke();
      for (const edge of [-2.4, 2.4]) {
        ctx.fillStyle = COLOURS.target;
        ctx.fillRect(w / 2 + edge * scale - 1, ground - 10, 2, 20);
      }
      const [x, theta] = frames[Math.min(frame, frames.length - 1)];
      const cx = w / 2 + x * scale;
      ctx.fillStyle = "#333";
      ctx.fillRect(cx - 25, ground - 15, 50, 30);
      const pole = 1.0 * scale; // the pole is 1 m long (half-length 0.5)
      ctx.strokeStyle = "#c98a2b";
      ctx.lineWidth = 6;
      ctx.beginPath();
      ctx.moveTo(cx, ground - 15);
      ctx.lineTo(cx + pole * Math.sin(theta), ground - 15 - pole * Math.cos(theta));
      ctx.stroke();
      ctx.lineWidth = 1;
      ctx.fillStyle = "#333";
      ctx.font = "24px sans-serif";
      const caption = frames.length > 1
        ? "step " + Math.min(frame, frames.length - 1) + " of an episode of " + (frames.length - 1) + " steps"
        : "an episode of the current policy appears here while it trains";
      ctx.fillText(caption, 8, 18);
    }
    function animate() {
      if (!animating) return;
      frame = frame + 1 >= frames.length ? 0 : frame + 1;
      draw();
      setTimeout(() => requestAnimationFrame(animate), 20); // 0.02 s per step, as in the dynamics
    }
    draw();

    // ---- training
    let worker = null;
    let stopAsked = false;
    function setState(state) {
      const training = state === "training";
      box.dataset.state = state;
      trainButton.disabled = training;
      stopButton.disabled = !training;
      for (const input of [menu, seed, untilSolved, ...inputs]) input.disabled = training;
    }
    setState("idle");

    trainButton.addEventListener("click", () => {
      if (!/^\d+$/.test(seed.value.trim() || "0")) {
        fail("the seed " + JSON.stringify(seed.value) + " is not allowed: use a whole number of at least 0");
        return;
      }
      const flags = runLine();
      delete box.dataset.error;
      stopAsked = false;
      setState("training");
      status.textContent = "Loading the module...";
      loadWasm(root)
        .then((wasm) => {
          if (stopAsked) {
            status.textContent = "Stopped before training started.";
            setState("idle");
            return;
          }
          if (!worker) {
            const source = "(" + workerMain.toString() + ")()";
            worker = new Worker(URL.createObjectURL(new Blob([source], { type: "text/javascript" })));
            worker.onmessage = (event) => receive(event.data);
            worker.onerror = (event) => fail(event.message || "the worker failed");
          }
          newPlot();
          result = { line: flags, iterations: [], summary: null };
          box.pgPlayResult = result;
          worker.postMessage({ type: "train", wasm: wasm, line: flags });
        })
        .catch((err) => fail(String(err)));
    });
    stopButton.addEventListener("click", () => {
      stopAsked = true;
      if (worker) worker.postMessage({ type: "stop" });
    });

    let result = null;
    // Shows an error: the command line's own text, without its "error:" and its hint about --help.
    function fail(message) {
      const text = String(message)
        .replace(/^error:\s*/i, "")
        .replace(/\n*For more information, try '--help'\.?\s*$/, "")
        .trim();
      status.textContent = "Error: " + text;
      box.dataset.error = text;
      setState("error");
    }

    function describe(s, done) {
      const perSecond = s.env_steps_per_second;
      let text = thousands(s.env_steps) + " environment steps, " + thousands(perSecond) + " steps per second in this browser";
      text += "; mean of the last 100 episodes " + s.final_mean_return.toFixed(1);
      if (s.solved_at_steps !== null) {
        text += "; solved (a 100-episode mean of 475) after " + thousands(s.solved_at_steps) + " steps, " + s.solved_at_seconds.toFixed(2) + " s";
      } else if (done) {
        text += "; not solved";
      }
      return text + (done ? "." : " ...");
    }

    function receive(m) {
      if (m.type === "error") return fail(m.message);
      if (m.type === "started") {
        status.textContent = "Training ...";
        return;
      }
      if (m.type === "progress") {
        const ex = [], ey = [], mx = [], my = [];
        for (const s of m.steps) {
          result.iterations.push(s.row);
          s.returns.forEach((r, i) => {
            ex.push(s.episode_steps[i]);
            ey.push(r);
          });
          mx.push(s.row.env_steps);
          my.push(s.mean_last_100);
        }
        if (ex.length || mx.length) Plotly.extendTraces(plot, { x: [ex, mx], y: [ey, my] }, [0, 1]);
        if (m.steps.length) {
          const last = m.steps[m.steps.length - 1];
          status.textContent = thousands(last.row.env_steps) + " environment steps; mean of the last 100 episodes " + last.mean_last_100.toFixed(1) + " ...";
        }
        if (m.frames && m.frames.length) {
          frames = m.frames;
          frame = 0;
          if (!animating) {
            animating = true;
            animate();
          }
        }
        return;
      }
      if (m.type === "done") {
        result.summary = m.summary;
        status.textContent = (m.stopped ? "Stopped: " : "") + describe(m.summary, true);
        box.dataset.solvedAtSteps = m.summary.solved_at_steps === null ? "" : String(m.summary.solved_at_steps);
        box.dataset.stepsPerSecond = String(m.summary.env_steps_per_second);
        setState("done");
      }
    }
  }

  function start() {
    const registry = self.PG_PLAY;
    for (const box of document.querySelectorAll(".pg-play:not(.pg-play-ready)")) {
      if (!registry) {
        box.textContent = "The trainer's menu (generated/play-registry.js) is missing: build the book with pg book.";
        continue;
      }
      try {
        Trainer(box, registry);
      } catch (err) {
        box.textContent = "The trainer could not start: " + err;
      }
    }
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
