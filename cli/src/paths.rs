//! The class tree of request paths, as the simulator implements it, for tab completion in
//! `mb shell`. `#` stands for a GUID segment. A test checks every path here against the
//! simulator's own path parser, so the two cannot drift apart.

pub const GUID: &str = "#";

pub const TREE: &[&str] = &[
    "API.GetClients",
    "API.Client.#.AutorizeInfo.Name",
    "API.Client.#.AutorizeInfo.Accounts",
    "API.Client.#.AutorizeInfo.Accounts.AddAccount",
    "API.Client.#.AutorizeInfo.Accounts.#.IP",
    "API.Client.#.AutorizeInfo.Accounts.#.MAC",
    "API.Client.#.AutorizeInfo.Accounts.#.Login",
    "API.Client.#.AutorizeInfo.Accounts.#.Password",
    "API.Client.#.AutorizeInfo.Accounts.#.PPP_IP",
    "API.Client.#.BillingInfo.Money",
    "API.Client.#.BillingInfo.DefaultInterface",
    "API.Client.#.BillingInfo.Tariff",
    "API.Client.#.BillingInfo.Group",
    "API.Client.#.StatusInfo.BlockReason",
    "API.Client.#.StatusInfo.Blocked",
    "API.Client.#.StatusInfo.CurrentSpeedLimitIn",
    "API.Client.#.PersonalDataInfo.Address",
    "API.Client.#.PersonalDataInfo.MobileTel",
    "API.Client.#.PersonalDataInfo.Fields",
    "API.Client.#.PersonalDataInfo.Field.#.FieldName",
    "API.Client.#.PersonalDataInfo.Field.#.FieldValue",
];

/// One possible next segment after a typed prefix.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord, Clone)]
pub struct Next {
    pub segment: String,
    /// More segments can follow it, so completion appends a `.`.
    pub has_children: bool,
}

/// The segments that can follow `done` (complete segments already typed) and start with
/// `partial`; a GUID position offers the GUIDs in `guids`.
pub fn next_segments<'a>(
    done: &[&str],
    partial: &str,
    guids: impl Iterator<Item = &'a str> + Clone,
) -> Vec<Next> {
    let mut found: Vec<Next> = Vec::new();
    let mut add = |segment: &str, has_children: bool| {
        if !segment.starts_with(partial) {
            return;
        }
        match found.iter_mut().find(|n| n.segment == segment) {
            Some(n) => n.has_children |= has_children,
            None => found.push(Next {
                segment: segment.to_string(),
                has_children,
            }),
        }
    };
    for path in TREE {
        let pattern: Vec<&str> = path.split('.').collect();
        if pattern.len() <= done.len() || !prefix_matches(&pattern, done) {
            continue;
        }
        let has_children = pattern.len() > done.len() + 1;
        match pattern[done.len()] {
            GUID => guids.clone().for_each(|g| add(g, has_children)),
            literal => add(literal, has_children),
        }
    }
    found.sort();
    found
}

fn prefix_matches(pattern: &[&str], done: &[&str]) -> bool {
    pattern.iter().zip(done).all(|(p, d)| match *p {
        GUID => !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()),
        literal => literal == *d,
    })
}

/// GUIDs in a reply: the digit keys of objects (accounts, fields) and the integers listed in
/// arrays (`API.GetClients`). Scalars such as a balance are not GUIDs and are left out.
pub fn guids_in(reply: &serde_json::Value, out: &mut Vec<String>) {
    use serde_json::Value;
    match reply {
        Value::Array(items) => {
            for item in items {
                match item {
                    Value::Number(n) if n.is_u64() => out.push(n.to_string()),
                    other => guids_in(other, out),
                }
            }
        }
        Value::Object(map) => {
            for (key, item) in map {
                if !key.is_empty() && key.bytes().all(|b| b.is_ascii_digit()) {
                    out.push(key.clone());
                }
                guids_in(item, out);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_path_is_one_the_simulator_parses() {
        for path in TREE {
            let concrete = path.replace(GUID, "633824158637492");
            assert!(
                mikrobill_sim::path::parse(&concrete).is_ok(),
                "the simulator does not know {concrete}"
            );
        }
    }

    #[test]
    fn literal_and_guid_segments_are_offered() {
        let none = std::iter::empty();
        assert_eq!(
            next_segments(&["API"], "", none.clone()),
            vec![
                Next {
                    segment: "Client".into(),
                    has_children: true
                },
                Next {
                    segment: "GetClients".into(),
                    has_children: false
                },
            ]
        );
        let guids = ["633824158637492", "9527563927532953"];
        let next = next_segments(&["API", "Client"], "9", guids.iter().copied());
        assert_eq!(
            next,
            vec![Next {
                segment: "9527563927532953".into(),
                has_children: true
            }]
        );
        let next = next_segments(&["API", "Client", "1", "BillingInfo"], "", none.clone());
        let names: Vec<&str> = next.iter().map(|n| n.segment.as_str()).collect();
        assert_eq!(names, ["DefaultInterface", "Group", "Money", "Tariff"]);
        // Accounts is a leaf (read all) and has children (one account).
        let next = next_segments(&["API", "Client", "1", "AutorizeInfo"], "Acc", none.clone());
        assert_eq!(
            next,
            vec![Next {
                segment: "Accounts".into(),
                has_children: true
            }]
        );
        assert!(next_segments(&["API", "Client", "x"], "", none).is_empty());
    }

    #[test]
    fn guids_come_from_lists_and_digit_keys_only() {
        let reply: serde_json::Value = serde_json::from_str(
            r#"{"return":[633824158637492,4611686018427387905],"code":0,
                "more":{"28236356495083":{"IP":"1.1.1.1"}},"money":150000}"#,
        )
        .unwrap();
        let mut out = Vec::new();
        guids_in(&reply, &mut out);
        assert_eq!(
            out,
            ["633824158637492", "4611686018427387905", "28236356495083"]
        );
    }
}
