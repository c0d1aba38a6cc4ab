//! The picture as SVG (and as one self-contained HTML page around it): a fixed width of
//! [`WIDTH`] pixels, the metanetworks as rows and the zones as columns, the arrows of the
//! security-group rules in lanes on the right, each labelled along its lane.

use std::fmt::Write;

use super::{From, Picture, Row};

/// The width of the picture, in pixels.
pub const WIDTH: u32 = 1600;
const MARGIN: u32 = 16;
/// The row headers' column.
const LABEL_W: u32 = 260;
/// The lanes of the arrows, right of the grid.
const ARROWS_W: u32 = 240;
const LINE: u32 = 16;
const PAD: u32 = 8;
/// The average width of a character of `class`'s text: 11 px text (ids, addresses,
/// labels) about 6.1 px, 12 px text about 6.6 px (DejaVu Sans, Verdana, Arial).
pub fn char_width(class: &str) -> f64 {
    match class {
        "subnet" | "free" | "nat" | "source" | "arrow-label" => 6.1,
        _ => 6.6,
    }
}

/// Characters of `class`'s text that fit in `px` pixels.
fn fits(px: u32, class: &str) -> usize {
    (px as f64 / char_width(class)) as usize
}

/// `text` broken at spaces into lines of at most `max` characters (a longer word is a
/// line of its own, cut when drawn).
fn wrap(text: &str, max: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in text.split(' ') {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > max {
            lines.push(std::mem::take(&mut line));
            line.push_str("  ");
        } else if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    lines.push(line);
    lines
}

/// Where things went: the vertical extent of each row, for tests and the arrows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SvgLayout {
    pub height: u32,
    /// `(top, height)` per row.
    pub rows: Vec<(u32, u32)>,
    pub column_width: u32,
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// `text` cut to `max` characters, with an ellipsis when cut.
fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        let mut s: String = text.chars().take(max.saturating_sub(1)).collect();
        s.push('…');
        s
    }
}

/// A text line, cut to `width` pixels; the whole text is its tooltip when cut.
fn text(out: &mut String, x: u32, y: u32, width: u32, class: &str, content: &str) {
    let shown = cut(content, fits(width, class));
    let title = if shown != content {
        format!("<title>{}</title>", esc(content))
    } else {
        String::new()
    };
    let _ = writeln!(
        out,
        r#"<text x="{x}" y="{y}" class="{class}">{title}{}</text>"#,
        esc(&shown)
    );
}

/// The row header's lines, wrapped to its column.
fn header_lines(row: &Row) -> Vec<(&'static str, String)> {
    let max = fits(LABEL_W - 2 * PAD, "sg");
    header_items(row)
        .into_iter()
        .flat_map(|(class, text)| wrap(&text, max).into_iter().map(move |l| (class, l)))
        .collect()
}

fn header_items(row: &Row) -> Vec<(&'static str, String)> {
    let mut lines = vec![
        ("net-name", format!("{} {}", row.net.as_str(), row.cidr)),
        ("sg", format!("security group {}", row.security_group)),
    ];
    if row.open_to_internet {
        lines.push(("internet", "open to the internet (0.0.0.0/0)".to_string()));
    }
    lines.extend(row.targets.iter().map(|t| ("target", format!("→ {t}"))));
    if !row.self_rules.is_empty() {
        lines.push((
            "self",
            format!("allows from itself: {}", row.self_rules.join(", ")),
        ));
    }
    lines
}

fn detail_lines(row: &Row) -> Vec<(&'static str, String)> {
    let mut lines = Vec::new();
    lines.extend(row.hosts.iter().map(|h| ("host", format!("group {h}"))));
    lines.extend(
        row.load_balancers
            .iter()
            .map(|l| ("lb", format!("load balancer {l}"))),
    );
    lines.extend(
        row.floating
            .iter()
            .map(|f| ("floating", format!("floating interface {f}"))),
    );
    lines
}

const CELL_LINES: u32 = 5;

fn row_height(row: &Row) -> u32 {
    let top = (header_lines(row).len() as u32).max(CELL_LINES + 1);
    let details = detail_lines(row).len() as u32;
    PAD + top * LINE + details * LINE + PAD * 2
}

const STYLE: &str = r#"
svg { font-family: "DejaVu Sans", Verdana, Arial, sans-serif; font-size: 12px; background: #ffffff; }
.title { font-size: 22px; font-weight: bold; fill: #1a1a1a; }
.subtitle { font-size: 13px; fill: #555555; }
.zone { font-size: 13px; font-weight: bold; fill: #333333; text-anchor: middle; }
.row-box { stroke: #8a94a6; stroke-width: 1; }
.row-box.intranet { fill: #eef4ff; } .row-box.tunnel { fill: #f4f0ff; }
.row-box.dmz { fill: #fff6ea; } .row-box.maintenance { fill: #eefaf1; }
.row-box.changed, .cell-box.changed { stroke: #e07b00; stroke-width: 3; stroke-dasharray: 8 4; }
.net-name { font-size: 15px; font-weight: bold; fill: #1a1a1a; }
.sg, .target, .self { fill: #333333; }
.internet { fill: #c62828; font-weight: bold; }
.cell-box { fill: #ffffff; stroke: #b0b8c6; stroke-width: 1; }
.cidr { font-weight: bold; fill: #1a1a1a; }
.subnet, .free, .nat { font-size: 11px; fill: #444444; }
.host, .lb, .floating { fill: #1f3a5f; }
.arrow { fill: none; stroke: #4a6fa5; stroke-width: 1.6; }
.arrow.internet-arrow { stroke: #c62828; stroke-width: 2.4; }
.arrow-label { font-size: 11px; fill: #2b4a78; }
.arrow-label.internet-arrow { fill: #c62828; font-weight: bold; }
.source-box { fill: #f7f7f7; stroke: #8a94a6; }
.source-box.internet-source { fill: #fdecea; stroke: #c62828; stroke-width: 2; }
.source { font-size: 11px; fill: #1a1a1a; }
.changes-box { fill: #fffaf2; stroke: #e07b00; stroke-dasharray: 8 4; }
.change-add { fill: #2e7d32; } .change-change { fill: #e07b00; } .change-delete { fill: #c62828; }
.section { font-weight: bold; fill: #1a1a1a; }
"#;

/// The picture as an SVG document, and where its rows went.
pub fn svg(p: &Picture) -> (String, SvgLayout) {
    let grid_x0 = MARGIN + LABEL_W;
    let grid_x1 = WIDTH - MARGIN - ARROWS_W;
    let zones = p.zones.len().max(1) as u32;
    let col_w = (grid_x1 - grid_x0) / zones;
    // Lanes: the arrows of one source next to each other, sources in order.
    let mut order: Vec<usize> = (0..p.arrows.len()).collect();
    order.sort_by_key(|&i| (p.arrows[i].from.clone(), p.arrows[i].to));
    let lanes = p.arrows.len().max(1) as u32;
    let lane_w = ((ARROWS_W - 60) / lanes).clamp(6, 20);
    let lane_x = |k: usize| grid_x1 + 40 + k as u32 * lane_w;

    let mut y = 76;
    // Outside sources: one line of boxes above the grid, from the right edge leftwards;
    // each arrow leaves its box at the bottom, turns at a height of its own below the
    // boxes, and joins its lane.
    let sources_y = y;
    let source_box = |s: usize| -> (u32, u32) {
        let x = (WIDTH - MARGIN).saturating_sub((s as u32 + 1) * 112) + 8;
        (x.max(MARGIN), sources_y)
    };
    let turns_y = sources_y + 48;
    if !p.sources.is_empty() {
        y = turns_y + 4 + 4 * p.arrows.len() as u32;
    }
    let zones_y = y + 16;
    y += 28;
    let mut layout = SvgLayout {
        height: 0,
        rows: Vec::new(),
        column_width: col_w,
    };
    for row in &p.rows {
        let h = row_height(row);
        layout.rows.push((y, h));
        y += h + PAD;
    }
    let mut bottom: Vec<(&'static str, String)> = Vec::new();
    if !p.elsewhere.is_empty() {
        bottom.push(("section", "Outside the metanetworks".to_string()));
        bottom.extend(p.elsewhere.iter().map(|e| ("host", e.clone())));
    }
    let changes: Vec<(&'static str, String)> = match &p.changes {
        None => Vec::new(),
        Some(c) if c.is_empty() => vec![(
            "section",
            "Pending changes (vpc update): none, the environment is as configured".to_string(),
        )],
        Some(c) => std::iter::once((
            "section",
            format!("Pending changes (vpc update): {}", c.len()),
        ))
        .chain(c.iter().map(|change| {
            let class = match change.sign.as_str() {
                "+" => "change-add",
                "-" => "change-delete",
                _ => "change-change",
            };
            (
                class,
                format!("{} {}: {}", change.sign, change.resource, change.text),
            )
        }))
        .collect(),
    };
    let bottom_y = y + PAD;
    let changes_y = bottom_y + bottom.len() as u32 * LINE + if bottom.is_empty() { 0 } else { PAD };
    let height = changes_y
        + if changes.is_empty() {
            0
        } else {
            changes.len() as u32 * LINE + 3 * PAD
        }
        + MARGIN;
    layout.height = height;

    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" role="img" aria-label="environment {}">"#,
        esc(&p.name)
    );
    let _ = writeln!(out, "<style>{STYLE}</style>");
    let _ = writeln!(
        out,
        r##"<defs><marker id="head" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#4a6fa5"/></marker><marker id="head-internet" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#c62828"/></marker></defs>"##
    );
    let _ = writeln!(
        out,
        r##"<rect x="0" y="0" width="{WIDTH}" height="{height}" fill="#ffffff"/>"##
    );
    text(&mut out, MARGIN, 36, WIDTH - 2 * MARGIN, "title", &p.name);
    text(
        &mut out,
        MARGIN,
        58,
        WIDTH - 2 * MARGIN,
        "subtitle",
        &p.subtitle,
    );
    for (i, z) in p.zones.iter().enumerate() {
        let x = grid_x0 + i as u32 * col_w + col_w / 2;
        let _ = writeln!(
            out,
            r#"<text x="{x}" y="{zones_y}" class="zone">{}</text>"#,
            esc(z)
        );
    }
    // Rows.
    for (r, row) in p.rows.iter().enumerate() {
        let (top, h) = layout.rows[r];
        let changed = if row.changed { " changed" } else { "" };
        let _ = writeln!(
            out,
            r#"<g class="row" data-net="{}"><rect class="row-box {}{changed}" x="{MARGIN}" y="{top}" width="{}" height="{h}" rx="6"/>"#,
            row.net.as_str(),
            row.net.as_str(),
            grid_x1 - MARGIN
        );
        for (i, (class, line)) in header_lines(row).iter().enumerate() {
            text(
                &mut out,
                MARGIN + PAD,
                top + PAD + LINE * (i as u32 + 1) - 3,
                LABEL_W - 2 * PAD,
                class,
                line,
            );
        }
        for (c, cell) in row.cells.iter().enumerate() {
            let Some(cell) = cell else { continue };
            let x = grid_x0 + c as u32 * col_w + 4;
            let w = col_w - 8;
            let ch = if cell.changed { " changed" } else { "" };
            let _ = writeln!(
                out,
                r#"<g class="cell" data-subnet="{}"><rect class="cell-box{ch}" x="{x}" y="{}" width="{w}" height="{}" rx="4"/>"#,
                esc(&cell.subnet_id),
                top + PAD,
                CELL_LINES * LINE + PAD
            );
            let mut lines: Vec<(&str, String)> = vec![
                ("cidr", cell.cidr.clone()),
                ("subnet", cell.subnet_id.clone()),
                (
                    "free",
                    match cell.free_ips {
                        Some(n) => format!("{n} free IPs"),
                        None => "free IPs unknown".to_string(),
                    },
                ),
            ];
            if let Some((id, ips)) = &cell.nat {
                lines.push(("nat", format!("NAT gateway {ips}")));
                lines.push(("nat", id.clone()));
            }
            for (i, (class, line)) in lines.iter().enumerate() {
                text(
                    &mut out,
                    x + 6,
                    top + PAD + LINE * (i as u32 + 1) + 1,
                    w - 12,
                    class,
                    line,
                );
            }
            let _ = writeln!(out, "</g>");
        }
        let details_y = top + PAD + (header_lines(row).len() as u32).max(CELL_LINES + 1) * LINE;
        for (i, (class, line)) in detail_lines(row).iter().enumerate() {
            text(
                &mut out,
                MARGIN + PAD,
                details_y + LINE * (i as u32 + 1),
                grid_x1 - MARGIN - 2 * PAD,
                class,
                line,
            );
        }
        let _ = writeln!(out, "</g>");
    }
    for (s, source) in p.sources.iter().enumerate() {
        let (x0, y0) = source_box(s);
        let w = 104;
        let class = if source.internet {
            " internet-source"
        } else {
            ""
        };
        let _ = writeln!(
            out,
            r#"<g class="source" data-cidr="{}"><rect class="source-box{class}" x="{x0}" y="{y0}" width="{w}" height="40" rx="6"/>"#,
            esc(&source.cidr)
        );
        text(&mut out, x0 + 6, y0 + 16, w - 12, "source", &source.label);
        text(&mut out, x0 + 6, y0 + 32, w - 12, "source", &source.cidr);
        let _ = writeln!(out, "</g>");
    }
    // Arrows: from the source row's right edge (or the source box) along its lane to the
    // target row's right edge. Several arrows into or out of one row are spread over its
    // height.
    let mut into = vec![0u32; p.rows.len()];
    let mut out_of = vec![0u32; p.rows.len()];
    for (k, &a) in order.iter().enumerate() {
        let arrow = &p.arrows[a];
        let (top, h) = layout.rows[arrow.to];
        let y_to = top + 14 + (into[arrow.to] * 9) % h.saturating_sub(20).max(1);
        into[arrow.to] += 1;
        let x = lane_x(k);
        let (start, y_from) = match arrow.from {
            From::Row(r) => {
                let (t, rh) = layout.rows[r];
                let y = t + rh - 10 - (out_of[r] * 9) % rh.saturating_sub(20).max(1);
                out_of[r] += 1;
                (format!("M {grid_x1} {y} H {x}"), y)
            }
            From::Source(src) => {
                let (bx, by) = source_box(src);
                let turn = turns_y + 4 + 4 * k as u32;
                (format!("M {} {} V {turn} H {x}", bx + 52, by + 40), turn)
            }
        };
        let (class, marker) = if arrow.internet {
            ("arrow internet-arrow", "head-internet")
        } else {
            ("arrow", "head")
        };
        let _ = writeln!(
            out,
            r#"<path class="{class}" data-to="{}" d="{start} V {y_to} H {}" marker-end="url(#{marker})"><title>{}</title></path>"#,
            p.rows[arrow.to].net.as_str(),
            grid_x1 + 2,
            esc(&arrow.label)
        );
        let mid = (y_from + y_to) / 2;
        let span = y_from.abs_diff(y_to).max(60);
        let label = cut(&arrow.label, fits(span, "arrow-label"));
        let label_class = if arrow.internet {
            "arrow-label internet-arrow"
        } else {
            "arrow-label"
        };
        let _ = writeln!(
            out,
            r#"<text class="{label_class}" x="{}" y="{mid}" text-anchor="middle" transform="rotate(-90 {} {mid})">{}</text>"#,
            x - 3,
            x - 3,
            esc(&label)
        );
    }
    for (i, (class, line)) in bottom.iter().enumerate() {
        text(
            &mut out,
            MARGIN,
            bottom_y + LINE * (i as u32 + 1),
            WIDTH - 2 * MARGIN,
            class,
            line,
        );
    }
    if !changes.is_empty() {
        let _ = writeln!(
            out,
            r#"<g class="changes"><rect class="changes-box" x="{MARGIN}" y="{changes_y}" width="{}" height="{}" rx="6"/>"#,
            WIDTH - 2 * MARGIN,
            changes.len() as u32 * LINE + 2 * PAD
        );
        for (i, (class, line)) in changes.iter().enumerate() {
            text(
                &mut out,
                MARGIN + PAD,
                changes_y + PAD + LINE * (i as u32 + 1) - 3,
                WIDTH - 2 * MARGIN - 2 * PAD,
                class,
                line,
            );
        }
        let _ = writeln!(out, "</g>");
    }
    let _ = writeln!(out, "</svg>");
    (out, layout)
}

/// The picture as one self-contained HTML page: the SVG inline, no script, no external
/// resource.
pub fn html(p: &Picture) -> String {
    let (svg, _) = svg(p);
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{} — asiaq vpc show</title>\n<style>html, body {{ margin: 0; padding: 0; background: #ffffff; }} svg {{ display: block; }}</style>\n</head>\n<body>\n{svg}</body>\n</html>\n",
        esc(&p.name)
    )
}
