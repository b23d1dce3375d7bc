//! `[[rules]]`: a DBA's routing overrides. Each rule matches on a regex of the statement
//! text, the user and/or the schema, and routes to the primary, a replica or a named
//! backend; the first match wins. Regexes are compiled once, when the config loads.

use super::classify::HintTarget;
use crate::config::RuleConfig;
use regex::bytes::Regex;

/// A compiled rule.
#[derive(Debug, Clone)]
pub struct Rule {
    pattern: Option<Regex>,
    user: Option<String>,
    schema: Option<String>,
    /// Where matching statements go.
    pub target: HintTarget,
    /// Staleness bound for reads matching this rule.
    pub max_lag_ms: Option<u64>,
}

/// The compiled rule list.
#[derive(Debug, Clone, Default)]
pub struct Rules {
    rules: Vec<Rule>,
}

impl Rules {
    /// Compiles the config's rules; an error names the rule's key and the reason.
    pub fn compile(configs: &[RuleConfig]) -> Result<Rules, (String, String)> {
        let mut rules = Vec::with_capacity(configs.len());
        for (i, c) in configs.iter().enumerate() {
            let pattern = match &c.pattern {
                Some(p) => {
                    Some(Regex::new(p).map_err(|e| (format!("rules[{i}].match"), e.to_string()))?)
                }
                None => None,
            };
            let target = match c.route.as_str() {
                "primary" => HintTarget::Primary,
                "replica" => HintTarget::Replica,
                name => HintTarget::Backend(name.to_string()),
            };
            rules.push(Rule {
                pattern,
                user: c.user.clone(),
                schema: c.schema.clone(),
                target,
                max_lag_ms: c.max_lag_ms,
            });
        }
        Ok(Rules { rules })
    }

    /// True when there are no rules (the query path then skips matching).
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The first rule matching this statement, user and schema.
    pub fn find(&self, sql: &[u8], user: &str, schema: Option<&str>) -> Option<&Rule> {
        self.rules.iter().find(|r| {
            r.user.as_deref().is_none_or(|u| u == user)
                && r.schema.as_deref().is_none_or(|s| Some(s) == schema)
                && r.pattern.as_ref().is_none_or(|p| p.is_match(sql))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(pattern: Option<&str>, user: Option<&str>, route: &str) -> RuleConfig {
        RuleConfig {
            pattern: pattern.map(str::to_string),
            user: user.map(str::to_string),
            schema: None,
            route: route.to_string(),
            max_lag_ms: None,
        }
    }

    #[test]
    fn first_match_wins_and_bad_regex_is_refused() {
        let rules = Rules::compile(&[
            rule(Some("(?i)^select .* from reports"), Some("bi"), "replica2"),
            rule(Some("(?i)^select .* from orders"), None, "primary"),
        ])
        .unwrap();
        let r = rules.find(b"SELECT * FROM reports", "bi", None).unwrap();
        assert_eq!(r.target, HintTarget::Backend("replica2".into()));
        assert!(rules.find(b"SELECT * FROM reports", "app", None).is_none());
        assert_eq!(
            rules
                .find(b"select 1 from orders", "app", None)
                .unwrap()
                .target,
            HintTarget::Primary
        );
        let err = Rules::compile(&[rule(Some("(unclosed"), None, "primary")]).unwrap_err();
        assert_eq!(err.0, "rules[0].match");
    }
}
