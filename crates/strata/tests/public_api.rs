//! The public API, pinned: every public item of the crate, printed without bodies and docs,
//! is compared with `snapshots/public_api__public_api.snap`. A change to the API fails this
//! test until the snapshot is reviewed and accepted (`cargo insta review`), so the API never
//! changes by accident.
//!
//! Read from the source with `syn` rather than from rustdoc's JSON, which needs a nightly
//! compiler. Items marked `#[doc(hidden)]` (what `embed!` expands to) are not part of it.

use std::path::Path;
use syn::{Attribute, Fields, ImplItem, Item, Visibility};

fn public(vis: &Visibility) -> bool {
    matches!(vis, Visibility::Public(_))
}

fn hidden(attrs: &[Attribute]) -> bool {
    attrs.iter().any(|a| {
        a.path().is_ident("doc")
            && a.meta
                .require_list()
                .is_ok_and(|l| l.tokens.to_string() == "hidden")
    })
}

/// Keeps the attributes that are part of the API (derives, `non_exhaustive`), not the docs.
fn api_attrs(attrs: &mut Vec<Attribute>) {
    attrs.retain(|a| a.path().is_ident("derive") || a.path().is_ident("non_exhaustive"));
}

fn public_fields(fields: &mut Fields) {
    match fields {
        Fields::Named(named) => {
            named.named = std::mem::take(&mut named.named)
                .into_pairs()
                .map(syn::punctuated::Pair::into_value)
                .filter(|f| public(&f.vis))
                .map(|mut f| {
                    api_attrs(&mut f.attrs);
                    f
                })
                .collect();
        }
        Fields::Unnamed(unnamed) => {
            for f in unnamed.unnamed.iter_mut() {
                api_attrs(&mut f.attrs);
            }
        }
        Fields::Unit => {}
    }
}

/// The name of a type an `impl` is for (`Database` of `impl Display for Database`).
fn self_type_name(i: &syn::ItemImpl) -> Option<String> {
    match &*i.self_ty {
        syn::Type::Path(p) => p.path.segments.last().map(|s| s.ident.to_string()),
        _ => None,
    }
}

/// The public part of one item, or `None`. `public_types` are the crate's public structs and
/// enums: only their trait implementations are part of the API.
fn skeleton(item: Item, public_types: &[String]) -> Option<Item> {
    match item {
        Item::Struct(mut s) if public(&s.vis) && !hidden(&s.attrs) => {
            api_attrs(&mut s.attrs);
            public_fields(&mut s.fields);
            Some(Item::Struct(s))
        }
        Item::Enum(mut e) if public(&e.vis) && !hidden(&e.attrs) => {
            api_attrs(&mut e.attrs);
            for v in e.variants.iter_mut() {
                api_attrs(&mut v.attrs);
                for f in v.fields.iter_mut() {
                    api_attrs(&mut f.attrs);
                }
            }
            Some(Item::Enum(e))
        }
        Item::Impl(mut i) => {
            if !self_type_name(&i).is_some_and(|n| public_types.contains(&n)) {
                return None;
            }
            i.attrs.clear();
            if i.trait_.is_some() {
                // A trait implementation is public as a whole; its items are the trait's.
                i.items.clear();
                return Some(Item::Impl(i));
            }
            i.items.retain_mut(|item| match item {
                ImplItem::Fn(f) if public(&f.vis) && !hidden(&f.attrs) => {
                    f.attrs.clear();
                    // `mut self` is the body's business, not the caller's.
                    if let Some(syn::FnArg::Receiver(r)) = f.sig.inputs.first_mut() {
                        r.mutability = None;
                    }
                    f.block = syn::parse_quote!({});
                    true
                }
                _ => false,
            });
            (!i.items.is_empty()).then_some(Item::Impl(i))
        }
        Item::Use(mut u) if public(&u.vis) => {
            u.attrs.clear();
            Some(Item::Use(u))
        }
        Item::Fn(mut f) if public(&f.vis) && !hidden(&f.attrs) => {
            f.attrs.clear();
            f.block = Box::new(syn::parse_quote!({}));
            Some(Item::Fn(f))
        }
        Item::Type(mut t) if public(&t.vis) => {
            t.attrs.clear();
            Some(Item::Type(t))
        }
        Item::Const(mut c) if public(&c.vis) => {
            c.attrs.clear();
            Some(Item::Const(c))
        }
        _ => None,
    }
}

#[test]
fn public_api() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files: Vec<_> = std::fs::read_dir(&src)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .collect();
    files.sort();
    let parsed: Vec<_> = files
        .iter()
        .map(|path| syn::parse_file(&std::fs::read_to_string(path).unwrap()).unwrap())
        .collect();
    let public_types: Vec<String> = parsed
        .iter()
        .flat_map(|f| &f.items)
        .filter_map(|item| match item {
            Item::Struct(s) if public(&s.vis) => Some(s.ident.to_string()),
            Item::Enum(e) if public(&e.vis) => Some(e.ident.to_string()),
            _ => None,
        })
        .collect();
    let mut api = String::new();
    for (path, parsed) in files.iter().zip(parsed) {
        let items: Vec<Item> = parsed
            .items
            .into_iter()
            .filter_map(|item| skeleton(item, &public_types))
            .collect();
        if items.is_empty() {
            continue;
        }
        let file = syn::File {
            shebang: None,
            attrs: Vec::new(),
            items,
        };
        api.push_str(&format!(
            "// src/{}\n{}\n",
            path.file_name().unwrap().to_string_lossy(),
            prettyplease::unparse(&file)
        ));
    }
    insta::assert_snapshot!(api);
}
