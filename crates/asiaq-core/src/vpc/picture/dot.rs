//! The picture as Graphviz (`--format dot`), for people who want their own layout: one
//! cluster per metanetwork holding its subnets and hosts, outside sources as ellipses, the
//! security-group rules as labelled edges between clusters.

use std::fmt::Write;

use super::{From, Picture};

/// `s` as a quoted DOT string (line breaks as `\n`).
fn q(s: &str) -> String {
    let escaped = s
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n");
    format!("\"{escaped}\"")
}

/// The picture as a Graphviz digraph.
pub fn dot(p: &Picture) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "digraph {} {{", q(&p.name));
    let _ = writeln!(out, "  compound=true; rankdir=TB; fontname=\"Helvetica\";");
    let _ = writeln!(
        out,
        "  label={}; labelloc=t;",
        q(&format!("{}\n{}", p.name, p.subtitle))
    );
    let _ = writeln!(
        out,
        "  node [shape=box, fontname=\"Helvetica\", fontsize=10];"
    );
    for (r, row) in p.rows.iter().enumerate() {
        let _ = writeln!(out, "  subgraph cluster_{r} {{");
        let mut label = format!(
            "{} {}\nsecurity group {}",
            row.net.as_str(),
            row.cidr,
            row.security_group
        );
        for t in &row.targets {
            label.push_str(&format!("\n-> {t}"));
        }
        if row.open_to_internet {
            label.push_str("\nOPEN TO THE INTERNET");
        }
        let style = if row.changed {
            "style=\"dashed,bold\"; color=\"#e07b00\";"
        } else {
            ""
        };
        let _ = writeln!(out, "    label={}; {style}", q(&label));
        let _ = writeln!(out, "    net_{r} [shape=point, style=invis];");
        for cell in row.cells.iter().flatten() {
            let mut l = format!("{}\n{}", cell.cidr, cell.subnet_id);
            if let Some(n) = cell.free_ips {
                l.push_str(&format!("\n{n} free IPs"));
            }
            if let Some((id, ips)) = &cell.nat {
                l.push_str(&format!("\nNAT {id} {ips}"));
            }
            let _ = writeln!(out, "    {} [label={}];", q(&cell.subnet_id), q(&l));
        }
        for (i, h) in row
            .hosts
            .iter()
            .map(|h| format!("group {h}"))
            .chain(
                row.load_balancers
                    .iter()
                    .map(|l| format!("load balancer {l}")),
            )
            .chain(
                row.floating
                    .iter()
                    .map(|f| format!("floating interface {f}")),
            )
            .enumerate()
        {
            let _ = writeln!(out, "    host_{r}_{i} [label={}, shape=note];", q(&h));
        }
        let _ = writeln!(out, "  }}");
    }
    for (s, source) in p.sources.iter().enumerate() {
        let color = if source.internet { ", color=red" } else { "" };
        let _ = writeln!(
            out,
            "  source_{s} [label={}, shape=ellipse{color}];",
            q(&format!("{}\n{}", source.label, source.cidr))
        );
    }
    for a in &p.arrows {
        let color = if a.internet {
            ", color=red, fontcolor=red"
        } else {
            ""
        };
        let (from, tail) = match a.from {
            From::Row(r) => (format!("net_{r}"), format!(", ltail=cluster_{r}")),
            From::Source(s) => (format!("source_{s}"), String::new()),
        };
        let _ = writeln!(
            out,
            "  {from} -> net_{} [label={}, lhead=cluster_{}{tail}{color}];",
            a.to,
            q(&a.label),
            a.to
        );
    }
    let _ = writeln!(out, "}}");
    out
}
