use super::*;

/// A dotenv document of a few thousand values.
fn large_dotenv() -> String {
    (0..2055)
        .map(|i| format!("NAME_{i}=value-{i}-{}\n", "x".repeat(i % 50)))
        .collect()
}

/// Sealing with `key` for a freshly generated identity.
fn plan_for_new_identity(key: &DataKey, encrypt: Vec<String>) -> SealPlan<'_> {
    let (_, public) = crate::envelope::generate_identity();
    SealPlan::new(
        key,
        wrap_for(key, &[Recipient::parse(&public).unwrap()]).unwrap(),
        &encrypt,
        &NoPrior,
        Vec::new(),
    )
}

fn sealed_with_key(plain: &str) -> (String, DataKey) {
    let key = DataKey::generate();
    let plan = plan_for_new_identity(&key, vec![]);
    (
        seal_with(Format::Dotenv, plain, &plan, |_, _| None).unwrap(),
        key,
    )
}

/// The file's MAC recomputed for its current text, as someone holding
/// the data key could.
fn remac(sealed: &str, key: &DataKey) -> String {
    let scan = Format::Dotenv.scan(sealed).unwrap();
    let block = scan.metadata.unwrap();
    let body = [&sealed[..block.region.start], &sealed[block.region.end..]];
    let fresh = compute_mac(&key.mac_key(), Format::Dotenv, &block.metadata, &body).finish();
    sealed.replace(&block.metadata.mac, &fresh)
}

/// A sealed output and what the self-check compares it with.
struct Spliced {
    doc_src: &'static str,
    body: String,
    placed: Vec<Placed>,
    meta: Metadata,
    sealed: String,
}

fn spliced(format: Format, src: &'static str, key: &DataKey) -> Spliced {
    let plan = plan_for_new_identity(key, vec![]);
    let doc = parse_plain(format, src).unwrap();
    let (body, placed) = splice_tokens(&doc, &plan, |_, _| None, &Replacements::new()).unwrap();
    let meta = metadata_for(
        &doc,
        &plan,
        changed_dates(&doc, &plan, &Replacements::new(), &placed),
        &body,
        &placed,
    )
    .unwrap();
    let sealed = format.attach_metadata(&body, &meta).unwrap();
    Spliced {
        doc_src: src,
        body,
        placed,
        meta,
        sealed,
    }
}

fn self_check(
    format: Format,
    s: &Spliced,
    key: &DataKey,
    sealed: &str,
) -> Result<(), DocError> {
    let doc = parse_plain(format, s.doc_src).unwrap();
    let none = Replacements::new();
    let plan = plan_for_new_identity(key, vec![]);
    check_sealed_output(&doc, &plan, &none, &s.meta, &s.body, &s.placed, sealed)
}

/// The self-check passes what sealing writes, and each way an output
/// could fail to open to its input is refused.
#[test]
fn the_self_check_refuses_output_that_would_not_open_to_its_input() {
    let key = DataKey::generate();
    for (format, src) in [
        (Format::Dotenv, "A=one\nB=two\n"),
        (Format::Yaml, "a: one\nb: [two, 3]\n"),
        (Format::Json, "{\"a\": \"one\", \"b\": [\"two\", 3]}\n"),
    ] {
        let s = spliced(format, src, &key);
        assert!(
            self_check(format, &s, &key, &s.sealed).is_ok(),
            "{format:?}"
        );
        assert_eq!(
            open_with_key(format, &s.sealed, key.clone())
                .unwrap()
                .plaintext
                .as_str(),
            src
        );

        // The body changed after it was MACed (here: its first byte).
        let mut edited = s.sealed.clone().into_bytes();
        edited[0] = if edited[0] == b'{' { b'[' } else { b'Z' };
        let edited = String::from_utf8(edited).unwrap();
        assert!(self_check(format, &s, &key, &edited).is_err(), "{format:?}");

        // The metadata block says something other than what was MACed.
        let mut other = s.meta.clone();
        other.modified = "2000-01-01T00:00:00Z".into();
        let doc = parse_plain(format, src).unwrap();
        let none = Replacements::new();
        let plan = plan_for_new_identity(&key, vec![]);
        assert!(
            check_sealed_output(&doc, &plan, &none, &other, &s.body, &s.placed, &s.sealed)
                .is_err()
        );

        // The output reads as a different path than the one sealed
        // (a parser that disagrees with itself).
        let mut doc = parse_plain(format, src).unwrap();
        doc.scan.leaves[0].path = KeyPath::key("elsewhere");
        assert!(
            check_sealed_output(&doc, &plan, &none, &s.meta, &s.body, &s.placed, &s.sealed)
                .is_err()
        );

        // A token where none was spliced, or none where one was.
        let doc = parse_plain(format, src).unwrap();
        assert!(check_sealed_output(
            &doc,
            &plan,
            &none,
            &s.meta,
            &s.body,
            &s.placed[1..],
            &s.sealed
        )
        .is_err());
    }
}

/// A reused token must be one the data key opens to the same value.
#[test]
fn a_reused_token_from_another_key_or_value_is_refused() {
    let key = DataKey::generate();
    let other_key = DataKey::generate();
    let path = KeyPath::key("A");
    let plan = plan_for_new_identity(&key, vec![]);
    let foreign = other_key.value_cipher().encrypt(&path, b"one");
    let err = seal_replacing(
        Format::Dotenv,
        "A=one\n",
        &plan,
        |_, _| Some(&foreign),
        &Replacements::new(),
    );
    assert!(matches!(err, Err(DocError::Internal(_))));
    let other_value = key.value_cipher().encrypt(&path, b"two");
    let err = seal_replacing(
        Format::Dotenv,
        "A=one\n",
        &plan,
        |_, _| Some(&other_value),
        &Replacements::new(),
    );
    assert!(matches!(err, Err(DocError::Internal(_))));
    let same = key.value_cipher().encrypt(&path, b"one");
    let sealed = seal_replacing(
        Format::Dotenv,
        "A=one\n",
        &plan,
        |_, _| Some(&same),
        &Replacements::new(),
    )
    .unwrap();
    assert!(sealed.contains(&same));
}

/// What `Opened::values` reads in place must be what parsing the
/// plaintext gives, with every value sealed or only some.
#[test]
fn values_read_in_place_match_a_parse_of_the_plaintext() {
    let docs = [
        (
            Format::Dotenv,
            "# c\nA=plain\nexport B='single $x'\nC=\"dq \\n \\\" \\$ x\"\nD=\nE=esc\\ aped # note\r\nF=été\n",
        ),
        (
            Format::Json,
            "{\"a\": \"s\\u00e9\\n\\\"q\\\"\", \"b\": [1, -2.5e3, true, null], \"c\": {\"d\": \"\", \"e\": {}}}\n",
        ),
        (
            Format::Yaml,
            "a: plain\nb: |\n  block\n  text\nc: [1, 'q']\nd:\ne: &x v\nf: *x\n",
        ),
    ];
    for (format, plain) in docs {
        let expected = format.values(plain).unwrap();
        for encrypt in [vec![], vec!["C".to_owned(), "a".into(), "b.*".into()]] {
            let key = DataKey::generate();
            let plan = plan_for_new_identity(&key, encrypt);
            let sealed = seal_with(format, plain, &plan, |_, _| None).unwrap();
            let opened = open_with_key(format, &sealed, key.clone()).unwrap();
            let got: Vec<(KeyPath, String)> = opened
                .values()
                .unwrap()
                .into_iter()
                .map(|(p, v)| (p.into_owned(), v.to_string()))
                .collect();
            let want: Vec<(KeyPath, String)> = expected
                .iter()
                .map(|(p, v)| (p.clone(), v.to_string()))
                .collect();
            assert_eq!(got, want, "{format:?} {:?}", plan.encrypt);
        }
    }
}

/// A decrypted value that is not exactly one value where it stands (an
/// unresolved merge conflict is stored as such a value) is an error, as
/// it is when the whole plaintext is parsed, never a value to use.
#[test]
fn values_that_are_not_one_value_are_refused() {
    let key_a = || KeyPath::key("A");
    let json_a = || KeyPath::new(0, vec![crate::path::Segment::Key("a".into())]);
    let cases = [
        (
            Format::Dotenv,
            "A=old\nB=x\n",
            key_a(),
            "pw-ours",
            "pw-theirs",
        ),
        (
            Format::Json,
            "{\"a\": \"old\", \"b\": 1}\n",
            json_a(),
            "\"pw-ours\"",
            "\"pw-theirs\"",
        ),
    ];
    for (format, plain, path, ours, theirs) in cases {
        let key = DataKey::generate();
        let plan = plan_for_new_identity(&key, vec![]);
        let mut replace = Replacements::new();
        replace.insert(
            path,
            crate::merge::conflict_block(Some(ours), Some(theirs), "\n"),
        );
        let sealed = seal_replacing(format, plain, &plan, |_, _| None, &replace).unwrap();
        let opened = open_with_key(format, &sealed, key).unwrap();
        assert!(format.values(&opened.plaintext).is_err(), "{format:?}");
        assert!(opened.values().is_err(), "{format:?}");
    }
    // A JSON string whose closing quote is missing is not read on into
    // the text after it.
    let src = "{\"a\": \"x, \"b\": \"y\"}";
    assert!(matches!(Format::Json.value_at(src, 6..9), Some(Err(_))));
    assert!(matches!(
        Format::Dotenv.value_at("A='x\nB=y'\n", 2..4),
        Some(Err(_))
    ));
}

/// The next version of a document keeps its data key, tokens and
/// wrapped keys for the same or more recipients, and refuses to when
/// one of its recipients is dropped.
#[test]
fn the_next_version_keeps_the_key_unless_a_recipient_is_dropped() {
    let people: Vec<(Identities, Recipient)> = (0..2)
        .map(|i| {
            let (secret, public) = crate::envelope::generate_identity();
            (
                Identities::from_text(&secret, &format!("p{i}")).unwrap(),
                Recipient::parse(&public).unwrap(),
            )
        })
        .collect();
    let (alice, bob) = (&people[0], &people[1]);
    let plain = "A=one\nB=two\n";
    let sealed = seal(Format::Dotenv, plain, std::slice::from_ref(&alice.1), &[]).unwrap();
    let opened = open(Format::Dotenv, &sealed, &alice.0).unwrap();
    let line = |text: &str, name: &str| {
        text.lines()
            .find(|l| l.starts_with(name))
            .unwrap()
            .to_owned()
    };

    let next = |plaintext: &str, recipients: &[Recipient]| match opened
        .seal_next_version(plaintext, recipients, &[])
        .unwrap()
    {
        NextVersion::Sealed { text, added } => (text, added),
        NextVersion::RecipientsRemoved(r) => panic!("removed {r:?}"),
    };
    let (same, added) = next(plain, std::slice::from_ref(&alice.1));
    assert_eq!(same, sealed);
    assert!(added.is_empty());

    let (changed, _) = next("A=one\nB=three\n", std::slice::from_ref(&alice.1));
    assert_eq!(line(&changed, "A="), line(&sealed, "A="));
    assert_ne!(line(&changed, "B="), line(&sealed, "B="));

    let both = [
        Recipient::parse(alice.1.as_str()).unwrap(),
        Recipient::parse(bob.1.as_str()).unwrap(),
    ];
    let (shared, added) = next(plain, &both);
    assert_eq!(added, [bob.1.as_str()]);
    assert_eq!(line(&shared, "A="), line(&sealed, "A="));
    let for_bob = open(Format::Dotenv, &shared, &bob.0).unwrap();
    assert_eq!(for_bob.plaintext.as_str(), plain);
    let meta = parse_sealed(Format::Dotenv, &shared).unwrap().metadata;
    assert_eq!(meta.recipients[0], opened.metadata.recipients[0]);

    match opened
        .seal_next_version(plain, std::slice::from_ref(&bob.1), &[])
        .unwrap()
    {
        NextVersion::RecipientsRemoved(removed) => assert_eq!(removed, [alice.1.as_str()]),
        NextVersion::Sealed { .. } => panic!("sealed with a key a removed recipient holds"),
    }
    assert!(matches!(
        opened.seal_next_version(plain, &[], &[]),
        Err(DocError::NoRecipients)
    ));
}

#[test]
fn large_files_open() {
    let plain = large_dotenv();
    let (sealed, key) = sealed_with_key(&plain);
    let opened = open_with_key(Format::Dotenv, &sealed, key).unwrap();
    assert_eq!(opened.plaintext.as_str(), plain);
}

/// Values left in plaintext between sealed ones land where they stood.
#[test]
fn large_files_with_plaintext_values_open() {
    let plain = large_dotenv();
    let key = DataKey::generate();
    // NAME_1, NAME_10.., NAME_100.. and NAME_1000..: 1,111 values.
    let plan = plan_for_new_identity(&key, vec!["NAME_1*".into()]);
    let sealed = seal_with(Format::Dotenv, &plain, &plan, |_, _| None).unwrap();
    let sealed_values = sealed.matches(crate::token::PREFIX_V1).count();
    assert!(sealed_values >= 1024, "{sealed_values}");
    let opened = open_with_key(Format::Dotenv, &sealed, key).unwrap();
    assert_eq!(opened.plaintext.as_str(), plain);
    let got: Vec<(String, String)> = opened
        .values()
        .unwrap()
        .into_iter()
        .map(|(p, v)| (p.to_string(), v.to_string()))
        .collect();
    let want: Vec<(String, String)> = Format::Dotenv
        .values(&plain)
        .unwrap()
        .into_iter()
        .map(|(p, v)| (p.to_string(), v.to_string()))
        .collect();
    assert_eq!(got, want);
}

#[test]
fn a_bad_mac_outranks_value_errors_in_large_files() {
    let plain = large_dotenv();
    let (sealed, key) = sealed_with_key(&plain);
    // Swap two tokens: both values then fail, and so does the MAC.
    let tokens: Vec<&str> = sealed
        .lines()
        .filter_map(|l| l.split_once('=').map(|(_, v)| v))
        .filter(|v| v.starts_with(crate::token::PREFIX_V1))
        .collect();
    let (first, last) = (tokens[0], tokens[tokens.len() - 1]);
    let swapped = sealed
        .replacen(first, "@FIRST@", 1)
        .replacen(last, first, 1)
        .replacen("@FIRST@", last, 1);
    assert!(matches!(
        open_with_key(Format::Dotenv, &swapped, key.clone()),
        Err(DocError::Tampered)
    ));
    // With the MAC made to match, the value errors are reported, naming
    // a key path and no plaintext.
    match open_with_key(Format::Dotenv, &remac(&swapped, &key), key) {
        Err(DocError::Value { path, .. }) => assert!(path.starts_with("NAME_")),
        Err(other) => panic!("expected a value error, got {other}"),
        Ok(_) => panic!("a swapped token opened"),
    }
}

/// An earlier version that holds none of the values, without saying so:
/// `changed_dates` takes its general path.
struct KnowsNothingSilently;

impl PriorDates for KnowsNothingSilently {
    fn prior(&self, _: &KeyPath, _: &[&str]) -> Option<Option<String>> {
        None
    }
}

/// The shortcut for a first encrypt writes what grouping every path would.
#[test]
fn changed_dates_without_a_prior_version_match_the_general_path() {
    let key = DataKey::generate();
    let src = "A=1\nB=2\nA=3\nC=\nD=4\n";
    let doc = parse_plain(Format::Dotenv, src).unwrap();
    let mut replace = Replacements::new();
    replace.insert(KeyPath::key("D"), Zeroizing::new("conflict".to_owned()));
    for replace in [Replacements::new(), replace] {
        for encrypt in [vec![], vec!["B".to_owned()], vec!["nothing".to_owned()]] {
            let mut plan = plan_for_new_identity(&key, encrypt);
            let (_, placed) = splice_tokens(&doc, &plan, |_, _| None, &replace).unwrap();
            let shortcut = changed_dates(&doc, &plan, &replace, &placed);
            plan.prior = &KnowsNothingSilently;
            let general = changed_dates(&doc, &plan, &replace, &placed);
            assert_eq!(shortcut, general, "{:?}", plan.encrypt);
        }
    }
}
