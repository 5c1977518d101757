/**
 * 由探索器的定义（optimlab.widgets.controls.Control，序列化在页面里）建出 HTML 控件：
 * 对数滑块（指数上连续）、线性滑块、整数滑块、开关、下拉菜单、选择滑块与网格滑块，各带读数。
 * 方向键在获得焦点的滑块上按定义的步长移动（PageUp/PageDown 四步，Home/End 到两端）。
 *
 *   buildControls(parent, controls, values, onChange, {grids}) -> {value(name), set(name, v), disable(name, on), el}
 *   fmt(x) — 超参数的短格式，同 optimlab.widgets.base.fmt（0.001 → 1e-3，0.9 → 0.9）
 */
import { pow } from "../optim/rules.mjs";

/** Python 的 f"{x:.{p}g}"。 */
export function fmtG(x, p = 3) {
  if (!Number.isFinite(x)) return String(x);
  if (x === 0) return "0";
  const e = Math.floor(Math.log10(Math.abs(x)));
  if (e < -4 || e >= p) {
    let [m, ex] = x.toExponential(p - 1).split("e");
    if (m.includes(".")) m = m.replace(/0+$/, "").replace(/\.$/, "");
    const n = Number(ex);
    return `${m}e${n < 0 ? "-" : "+"}${String(Math.abs(n)).padStart(2, "0")}`;
  }
  let s = x.toPrecision(p);
  if (s.includes(".")) s = s.replace(/0+$/, "").replace(/\.$/, "");
  return s;
}

/** 超参数的短格式，同 optimlab.widgets.base.fmt。 */
export function fmt(x) {
  if (x === 0) return "0";
  if (!Number.isFinite(x)) return String(x);
  if (Math.abs(x) < 1e-2 || Math.abs(x) >= 1e4) {
    let [m, e] = x.toExponential(2).split("e");
    m = m.replace(/0+$/, "").replace(/\.$/, "");
    return `${m}e${Number(e)}`;
  }
  return fmtG(x, 4);
}

/** 一个滑块的模型：位置（range 的值）与控件值之间的换算、步长与读数。 */
function sliderModel(c, grids) {
  if (c.kind === "log") {
    return { min: c.lo, max: c.hi, step: "any", key: c.step, toValue: (e) => pow(10, e), toPos: (v) => Math.log10(v),
             snap: (e) => c.lo + Math.round((e - c.lo) / c.step) * c.step, readout: (v) => fmt(v) };
  }
  if (c.kind === "float" || c.kind === "int") {
    const step = c.step || 1, digits = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
    const round = (v) => (c.kind === "int" ? Math.round(v) : Number(v.toFixed(Math.min(12, digits + 2))));
    return { min: c.lo, max: c.hi, step, key: step, toValue: round, toPos: (v) => v,
             snap: (v) => round(c.lo + Math.round((v - c.lo) / step) * step),
             readout: (v) => (c.kind === "int" ? String(v) : fmtG(v, Number((c.fmt.match(/\.(\d+)g/) || [0, 3])[1]))) };
  }
  // choice / grid / log_grid：位置是下标
  const vals = c.kind === "choice" ? c.options.map((o) => (Array.isArray(o) ? o[1] : o)) : null;
  const labels = c.kind === "choice" ? c.options.map((o) => String(Array.isArray(o) ? o[0] : o))
    : (grids[c.name] || []).map((v) => (c.kind === "log_grid" ? fmt(v) : v.toFixed(3)));
  const n = c.kind === "choice" ? vals.length : c.n;
  return { min: 0, max: n - 1, step: 1, key: 1, toValue: (i) => (vals ? vals[Math.round(i)] : Math.round(i)),
           toPos: (v) => (vals ? vals.indexOf(v) : v), snap: (i) => Math.round(i), readout: (v) => labels[vals ? vals.indexOf(v) : v] };
}

export function buildControls(parent, controls, values, onChange, { grids = {} } = {}) {
  const state = { ...values }, rows = {};
  const box = document.createElement("div");
  box.className = "optimlab-live-controls";
  parent.appendChild(box);

  for (const [name, def] of Object.entries(controls)) {
    const c = { ...def, name };
    const row = document.createElement("label");
    row.className = `optimlab-live-control optimlab-live-${c.kind}`;
    row.dataset.control = name;
    const title = document.createElement("span");
    title.className = "optimlab-live-label";
    title.textContent = c.label;
    let input, out, model = null;
    if (c.kind === "checkbox") {
      input = document.createElement("input");
      input.type = "checkbox";
      input.checked = !!state[name];
      input.addEventListener("change", (ev) => { state[name] = input.checked; onChange(name, state[name], ev); });
      row.append(input, title);
    } else if (c.kind === "dropdown") {
      input = document.createElement("select");
      for (const [label, v] of c.options) {
        const o = document.createElement("option");
        o.value = JSON.stringify(v);
        o.textContent = label;
        input.appendChild(o);
      }
      input.value = JSON.stringify(state[name]);
      input.addEventListener("change", (ev) => { state[name] = JSON.parse(input.value); onChange(name, state[name], ev); });
      row.append(title, input);
    } else {
      model = sliderModel(c, grids);
      input = document.createElement("input");
      input.type = "range";
      Object.assign(input, { min: model.min, max: model.max, step: model.step });
      input.value = model.toPos(state[name]);
      out = document.createElement("output");
      out.textContent = model.readout(state[name]);
      const apply = (pos, ev) => {
        const v = model.toValue(pos);
        if (v === state[name]) return;
        state[name] = v;
        out.textContent = model.readout(v);
        onChange(name, v, ev);
      };
      input.addEventListener("input", (ev) => apply(Number(input.value), ev));
      input.addEventListener("keydown", (ev) => {
        const k = { ArrowLeft: -1, ArrowDown: -1, ArrowRight: 1, ArrowUp: 1, PageDown: -4, PageUp: 4 }[ev.key];
        const pos = Number(input.value);
        let to = null;
        if (k) to = model.snap(pos) + k * model.key;
        else if (ev.key === "Home") to = model.min;
        else if (ev.key === "End") to = model.max;
        if (to === null) return;
        ev.preventDefault();
        to = Math.min(model.max, Math.max(model.min, model.snap(to)));
        input.value = to;
        apply(model.snap(to), ev);
      });
      row.append(title, input, out);
    }
    input.dataset.control = name;
    box.appendChild(row);
    rows[name] = { row, input, out, model };
  }

  return {
    el: box,
    rows,
    value: (name) => state[name],
    values: () => ({ ...state }),
    /** 由程序设置（不触发 onChange），如切换曲面后的建议学习率、点击地图。 */
    set(name, v) {
      const r = rows[name];
      if (!r) return;
      state[name] = v;
      if (r.model) { r.input.value = r.model.toPos(v); r.out.textContent = r.model.readout(v); }
      else if (r.input.type === "checkbox") r.input.checked = !!v;
      else r.input.value = JSON.stringify(v);
    },
    disable(name, on) {
      const r = rows[name];
      if (!r) return;
      r.input.disabled = on;
      r.row.classList.toggle("optimlab-live-disabled", on);
    },
  };
}
