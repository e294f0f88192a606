//! A picture of a tabular MDP drawn from its own tables, so that the book's
//! diagram cannot disagree with the MDP the tests enumerate.
//!
//! States sit on a circle; each (state, action) → next-state transition is an
//! arrow in the action's colour and dash pattern, labelled with p(s′|s, a)
//! and r(s, a). Terminal states are double circles and have no arrows out of
//! them. The output is one inline `<svg>` without blank lines, so Markdown
//! keeps it as a single HTML block.

use super::super::num;
use super::TabularMdp;
use std::fmt::Write;

/// Radius of a state's circle.
const NODE: f64 = 24.0;
/// Radius of the circle the states sit on.
const RING: f64 = 140.0;
/// Font size of the labels.
const FONT: f64 = 14.0;
/// Colours and dash patterns of the actions, cycled.
const STYLES: [(&str, &str); 4] =
    [("#1f77b4", ""), ("#d95f02", "7 4"), ("#2ca02c", "2 3"), ("#9467bd", "9 3 2 3")];

#[derive(Clone, Copy)]
struct Pt(f64, f64);

impl Pt {
    fn add(self, o: Pt) -> Pt {
        Pt(self.0 + o.0, self.1 + o.1)
    }
    fn sub(self, o: Pt) -> Pt {
        Pt(self.0 - o.0, self.1 - o.1)
    }
    fn scale(self, k: f64) -> Pt {
        Pt(self.0 * k, self.1 * k)
    }
    fn unit(self) -> Pt {
        self.scale(1.0 / self.0.hypot(self.1))
    }
    /// The unit vector at `deg` degrees (screen coordinates: y points down).
    fn at(deg: f64) -> Pt {
        let r = deg.to_radians();
        Pt(r.cos(), r.sin())
    }
}

/// The label of one transition: the action, p(s′|s, a) and r(s, a).
fn transition_label(a: usize, p: f64, r: f64) -> String {
    format!("a={a}: p {}, r {}", num(p), num(r))
}

/// Collects SVG elements and the bounding box of everything drawn.
struct Canvas {
    body: String,
    min: Pt,
    max: Pt,
}

impl Canvas {
    fn cover(&mut self, p: Pt) {
        self.min = Pt(self.min.0.min(p.0), self.min.1.min(p.1));
        self.max = Pt(self.max.0.max(p.0), self.max.1.max(p.1));
    }

    /// Text with its anchor (`start`, `middle`, `end`) and a halo in the
    /// page's background colour, so that it stays readable over lines.
    fn text(&mut self, at: Pt, anchor: &str, fill: &str, text: &str) {
        let width = 0.56 * FONT * text.chars().count() as f64;
        let left = match anchor {
            "start" => at.0,
            "end" => at.0 - width,
            _ => at.0 - width / 2.0,
        };
        self.cover(Pt(left, at.1 - FONT));
        self.cover(Pt(left + width, at.1 + 0.3 * FONT));
        let _ = writeln!(
            self.body,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"{anchor}\" fill=\"{fill}\" \
             style=\"stroke:var(--bg, white);stroke-width:4px;paint-order:stroke\">{text}</text>",
            at.0, at.1
        );
    }

    /// A path (`d` in SVG syntax) with an arrowhead at `tip`, arriving along `dir`.
    fn arrow(&mut self, d: &str, tip: Pt, dir: Pt, (colour, dash): (&str, &str), points: &[Pt]) {
        for &p in points {
            self.cover(p);
        }
        let dash = if dash.is_empty() { String::new() } else { format!(" stroke-dasharray=\"{dash}\"") };
        let _ = writeln!(
            self.body,
            "<path d=\"{d}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\"{dash}/>"
        );
        let u = dir.unit();
        let n = Pt(-u.1, u.0);
        let base = tip.sub(u.scale(11.0));
        let (l, r) = (base.add(n.scale(5.0)), base.sub(n.scale(5.0)));
        let _ = writeln!(
            self.body,
            "<polygon points=\"{:.1},{:.1} {:.1},{:.1} {:.1},{:.1}\" fill=\"{colour}\"/>",
            tip.0, tip.1, l.0, l.1, r.0, r.1
        );
    }
}

impl TabularMdp {
    /// An SVG diagram of the MDP, drawn from its tables: every state, every
    /// transition with its probability p(s′|s, a) and reward r(s, a), the
    /// start distribution, the terminal states and the horizon. One HTML
    /// block without blank lines, 100% wide up to 600 px.
    pub fn to_svg(&self) -> String {
        let n = self.n_states();
        let centre = Pt(0.0, 0.0);
        // The last state at the bottom, the others spread evenly around it.
        let angle = |i: usize| 90.0 + 360.0 * (i + 1) as f64 / n as f64;
        let pos: Vec<Pt> =
            (0..n).map(|i| if n == 1 { centre } else { Pt::at(angle(i)).scale(RING) }).collect();
        let mut c = Canvas { body: String::new(), min: Pt(f64::MAX, f64::MAX), max: Pt(f64::MIN, f64::MIN) };

        // Arrows between two different states: the k-th arrow of an ordered
        // pair bulges further out, and the two directions bulge to opposite sides.
        let mut pair_count = vec![vec![0usize; n]; n];
        for s in (0..n).filter(|&s| !self.is_terminal(s)) {
            for a in 0..self.n_actions() {
                for t in self.transitions(s, a).iter().filter(|t| t.next != s) {
                    let k = pair_count[s][t.next];
                    pair_count[s][t.next] += 1;
                    let (from, to) = (pos[s], pos[t.next]);
                    let dir = to.sub(from).unit();
                    let normal = Pt(dir.1, -dir.0);
                    let bulge = 18.0 + 30.0 * k as f64;
                    let control = from.add(to).scale(0.5).add(normal.scale(2.0 * bulge));
                    let start = from.add(control.sub(from).unit().scale(NODE));
                    let end = to.add(control.sub(to).unit().scale(NODE + 1.0));
                    let d = format!(
                        "M{:.1},{:.1} Q{:.1},{:.1} {:.1},{:.1}",
                        start.0, start.1, control.0, control.1, end.0, end.1
                    );
                    let mid = start.scale(0.25).add(control.scale(0.5)).add(end.scale(0.25));
                    c.arrow(&d, end, end.sub(control), STYLES[a % STYLES.len()], &[start, mid, end]);
                    let at = mid.add(normal.scale(12.0)).add(Pt(0.0, 5.0));
                    c.text(
                        at,
                        "middle",
                        STYLES[a % STYLES.len()].0,
                        &transition_label(a, t.prob, self.reward(s, a)),
                    );
                }
            }
        }

        for (s, &p) in pos.iter().enumerate() {
            // Self-loops point sideways, away from the middle, fanned out by action.
            let outward = if n == 1 {
                270.0
            } else if p.0 < -1.0 {
                180.0
            } else if p.0 > 1.0 {
                0.0
            } else if p.1 > 0.0 {
                90.0
            } else {
                270.0
            };
            let loops: Vec<(usize, f64)> = if self.is_terminal(s) {
                Vec::new()
            } else {
                (0..self.n_actions())
                    .flat_map(|a| {
                        self.transitions(s, a).iter().filter(|t| t.next == s).map(move |t| (a, t.prob))
                    })
                    .collect()
            };
            for (j, &(a, prob)) in loops.iter().enumerate() {
                let phi = outward + (j as f64 - (loops.len() as f64 - 1.0) / 2.0) * 120.0;
                let start = p.add(Pt::at(phi - 20.0).scale(NODE));
                let end = p.add(Pt::at(phi + 20.0).scale(NODE + 1.0));
                let (c1, c2) = (p.add(Pt::at(phi - 30.0).scale(80.0)), p.add(Pt::at(phi + 30.0).scale(80.0)));
                let d = format!(
                    "M{:.1},{:.1} C{:.1},{:.1} {:.1},{:.1} {:.1},{:.1}",
                    start.0, start.1, c1.0, c1.1, c2.0, c2.1, end.0, end.1
                );
                let u = Pt::at(phi);
                let apex = start.add(end).scale(0.125).add(c1.add(c2).scale(0.375));
                c.arrow(&d, end, end.sub(c2), STYLES[a % STYLES.len()], &[start, apex, end]);
                // The label goes past the loop's outermost point, pushed outwards.
                let on_loop = |t: f64| {
                    let m = 1.0 - t;
                    start
                        .scale(m * m * m)
                        .add(c1.scale(3.0 * m * m * t))
                        .add(c2.scale(3.0 * m * t * t))
                        .add(end.scale(t * t * t))
                };
                let ys = (0..=20).map(|i| on_loop(i as f64 / 20.0).1);
                let (top, bottom) = ys.fold((f64::MAX, f64::MIN), |(lo, hi), y| (lo.min(y), hi.max(y)));
                let label = transition_label(a, prob, self.reward(s, a));
                let colour = STYLES[a % STYLES.len()].0;
                let x = apex.0 + 12.0 * u.0;
                if u.1 < -0.2 {
                    c.text(Pt(x, top - 6.0), "middle", colour, &label);
                } else if u.1 > 0.2 {
                    c.text(Pt(x, bottom + FONT + 2.0), "middle", colour, &label);
                } else {
                    let anchor = if u.0 < 0.0 { "end" } else { "start" };
                    c.text(Pt(apex.0 + 6.0 * u.0, apex.1 + 5.0), anchor, colour, &label);
                }
            }

            c.cover(p.sub(Pt(NODE + 4.0, NODE + 4.0)));
            c.cover(p.add(Pt(NODE + 4.0, NODE + 4.0)));
            let _ = writeln!(
                c.body,
                "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"{NODE}\" fill=\"none\" stroke=\"currentColor\" stroke-width=\"2\"/>",
                p.0, p.1
            );
            if self.is_terminal(s) {
                let _ = writeln!(
                    c.body,
                    "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"{}\" fill=\"none\" stroke=\"currentColor\" stroke-width=\"1.5\"/>",
                    p.0,
                    p.1,
                    NODE - 5.0
                );
            }
            let _ = writeln!(
                c.body,
                "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"currentColor\" font-size=\"{}\">{s}</text>",
                p.0,
                p.1 + 6.0,
                FONT + 2.0,
            );
        }

        // The legend: one swatch per action, then what the labels and circles mean.
        let mid_x = (c.min.0 + c.max.0) / 2.0;
        let mut y = c.max.1 + 2.0 * FONT;
        let swatch = 28.0;
        let entry = swatch + 6.0 + 3.5 * 0.6 * FONT + 16.0;
        let mut x = mid_x - entry * self.n_actions() as f64 / 2.0;
        for a in 0..self.n_actions() {
            let (from, to) = (Pt(x, y - 5.0), Pt(x + swatch, y - 5.0));
            let d = format!("M{:.1},{:.1} L{:.1},{:.1}", from.0, from.1, to.0, to.1);
            c.arrow(&d, to, to.sub(from), STYLES[a % STYLES.len()], &[from, to]);
            c.text(Pt(x + swatch + 6.0, y), "start", "currentColor", &format!("a={a}"));
            x += entry;
        }
        y += 1.6 * FONT;
        c.text(Pt(mid_x, y), "middle", "currentColor", "labels: a, p(s′ | s, a), r(s, a)");
        y += 1.6 * FONT;
        let starts: Vec<String> = (0..n)
            .filter(|&s| self.initial()[s] > 0.0)
            .map(|s| format!("{s} with p {}", num(self.initial()[s])))
            .collect();
        c.text(Pt(mid_x, y), "middle", "currentColor", &format!("start: {}", starts.join(", ")));
        y += 1.6 * FONT;
        let end = if self.horizon_is_terminal() { "a termination" } else { "a truncation" };
        let horizon = format!("double circle: terminal; H = {} ({end})", self.horizon());
        c.text(Pt(mid_x, y), "middle", "currentColor", &horizon);

        let pad = 8.0;
        let (x0, y0) = (c.min.0 - pad, c.min.1 - pad);
        let (w, h) = (c.max.0 - c.min.0 + 2.0 * pad, c.max.1 - c.min.1 + 2.0 * pad);
        let mut out = String::new();
        let _ = writeln!(
            out,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"{x0:.1} {y0:.1} {w:.1} {h:.1}\" width=\"100%\" \
             style=\"max-width:600px;height:auto;display:block;margin:1em auto\" font-family=\"sans-serif\" \
             font-size=\"{FONT}\" role=\"img\" aria-label=\"A diagram of the MDP: {n} states, {} actions\">",
            self.n_actions()
        );
        out += &c.body;
        out += "</svg>\n";
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::Transition;

    fn labels(mdp: &TabularMdp) -> Vec<String> {
        let mut out = Vec::new();
        for s in (0..mdp.n_states()).filter(|&s| !mdp.is_terminal(s)) {
            for a in 0..mdp.n_actions() {
                for t in mdp.transitions(s, a) {
                    out.push(transition_label(a, t.prob, mdp.reward(s, a)));
                }
            }
        }
        out
    }

    #[test]
    fn the_diagram_shows_every_state_and_transition_of_the_mdp() {
        let mdp = TabularMdp::three_state();
        let svg = mdp.to_svg();
        for s in 0..mdp.n_states() {
            assert!(svg.contains(&format!(">{s}</text>")), "state {s} is missing");
        }
        let expected = labels(&mdp);
        // Nine transitions leave the two non-terminal states.
        let arrows: usize = (0..2).map(|s| (0..2).map(|a| mdp.transitions(s, a).len()).sum::<usize>()).sum();
        assert_eq!(expected.len(), arrows);
        for label in &expected {
            let count = expected.iter().filter(|l| *l == label).count();
            assert_eq!(svg.matches(&format!(">{label}</text>")).count(), count, "{label}");
        }
        for (s, &p) in mdp.initial().iter().enumerate().filter(|(_, p)| **p > 0.0) {
            assert!(svg.contains(&format!("{s} with p {}", num(p))), "start in state {s}");
        }
        assert!(svg.contains(&format!("H = {} (a truncation)", mdp.horizon())));
        // One arrowhead per transition and per legend swatch.
        assert_eq!(svg.matches("<polygon").count(), arrows + mdp.n_actions());
    }

    #[test]
    fn the_diagram_is_one_html_block() {
        let svg = TabularMdp::three_state().to_svg();
        assert!(svg.starts_with("<svg ") && svg.trim_end().ends_with("</svg>"));
        assert!(svg.lines().all(|l| !l.trim().is_empty() && !l.starts_with(' ')), "a blank or indented line");
        assert_eq!(svg.matches("<text").count(), svg.matches("</text>").count());
        assert!(svg.contains("viewBox=") && svg.contains("width=\"100%\"") && !svg.contains('$'));
    }

    #[test]
    fn the_diagram_changes_with_the_mdp() {
        let base = TabularMdp::three_state();
        let svg = base.to_svg();
        let offset = base.clone().with_reward_offset(1.0);
        assert_ne!(offset.to_svg(), svg);
        assert!(offset.to_svg().contains(&format!(">{}</text>", transition_label(1, 0.8, 3.0))));
        assert_ne!(TabularMdp::three_state_with_horizon(5).to_svg(), svg);
        assert_ne!(base.clone().without_termination().to_svg(), svg);
        // Another transition probability.
        let t = |prob, next| Transition { prob, next };
        let moved = TabularMdp::new(
            vec![0.7, 0.3, 0.0],
            vec![
                vec![vec![t(0.8, 0), t(0.2, 1)], vec![t(0.6, 1), t(0.3, 0), t(0.1, 2)]],
                vec![vec![t(0.5, 0), t(0.5, 1)], vec![t(0.8, 1), t(0.2, 2)]],
                vec![vec![t(1.0, 2)], vec![t(1.0, 2)]],
            ],
            vec![vec![0.5, 0.0], vec![0.2, 2.0], vec![0.0, 0.0]],
            vec![false, false, true],
            4,
        );
        let svg_moved = moved.to_svg();
        assert!(svg_moved.contains(&format!(">{}</text>", transition_label(0, 0.8, 0.5))));
        assert!(!svg_moved.contains(&format!(">{}</text>", transition_label(0, 0.9, 0.5))));
    }

    #[test]
    fn numbers_are_written_as_the_tables_write_them() {
        assert_eq!(num(2.0), "2");
        assert_eq!(num(0.1 + 0.2), "0.3");
        assert_eq!(num(-0.00001), "0");
        assert_eq!(num(0.25), "0.25");
    }
}
