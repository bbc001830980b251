//! The page tree of the kept objects: checked for loops and shared nodes,
//! pruned of kids that are not there, and its `/Count`s recomputed.

use lopdf::{Object, ObjectId};
use std::collections::{BTreeMap, BTreeSet};

/// What [`fix`] found besides errors.
#[derive(Debug, Default)]
pub struct Tree {
    /// Ids of page copies made for pages listed twice.
    pub added: Vec<ObjectId>,
    /// Every page (leaf), in order of the walk.
    pub pages: Vec<ObjectId>,
}

/// What is wrong with a page tree that cannot be written back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageTreeError(pub String);

/// How deep a page tree may be; real ones are a few levels.
pub const MAX_PAGE_TREE_DEPTH: usize = 256;

fn kid_ids(objects: &BTreeMap<ObjectId, Object>, node: ObjectId) -> Option<Vec<Object>> {
    match objects.get(&node) {
        Some(Object::Dictionary(d)) => match d.get(b"Kids") {
            Ok(Object::Array(a)) => Some(a.clone()),
            Ok(Object::Reference(r)) => match objects.get(r) {
                Some(Object::Array(a)) => Some(a.clone()),
                _ => Some(Vec::new()),
            },
            _ => None,
        },
        _ => None,
    }
}

fn is_node(objects: &BTreeMap<ObjectId, Object>, id: ObjectId) -> bool {
    match objects.get(&id) {
        Some(Object::Dictionary(d)) => {
            d.has(b"Kids")
                || d.get(b"Type")
                    .ok()
                    .and_then(|t| t.as_name().ok())
                    .is_some_and(|t| t == b"Pages")
        }
        _ => false,
    }
}

fn is_dict(objects: &BTreeMap<ObjectId, Object>, id: ObjectId) -> bool {
    matches!(objects.get(&id), Some(Object::Dictionary(_)))
}

/// Checks the tree under `root` and fixes it in place: every node gets
/// `/Count` and `/Type /Pages`, every kid its `/Parent`. A kid that is not
/// a dictionary (an unreadable or missing page) is an error, since
/// dropping it would lose a page. Returns the number of pages.
/// A page listed twice becomes a copy (as readers show it); a node
/// reached twice (a loop or a shared subtree) or a tree deeper than
/// [`MAX_PAGE_TREE_DEPTH`] is an error. The ids of copies are appended to
/// `added`.
pub fn fix(
    objects: &mut BTreeMap<ObjectId, Object>,
    root: ObjectId,
    tree: &mut Tree,
) -> Result<u64, PageTreeError> {
    if !is_node(objects, root) {
        return Err(PageTreeError(format!(
            "the page tree root {} {} is not a /Pages node",
            root.0, root.1
        )));
    }
    let mut seen: BTreeSet<ObjectId> = BTreeSet::new();
    seen.insert(root);
    // Pre-order list of nodes with their kept kids; counts are summed in
    // reverse order, children before parents.
    let mut order: Vec<(ObjectId, Vec<ObjectId>)> = Vec::new();
    let mut stack: Vec<(ObjectId, usize)> = vec![(root, 0)];
    while let Some((node, depth)) = stack.pop() {
        if depth > MAX_PAGE_TREE_DEPTH {
            return Err(PageTreeError(format!(
                "the page tree is deeper than {MAX_PAGE_TREE_DEPTH} levels"
            )));
        }
        let kids = kid_ids(objects, node).unwrap_or_default();
        let mut kept = Vec::new();
        for k in kids {
            let id = match k {
                Object::Reference(id) if is_dict(objects, id) => id,
                Object::Null => continue,
                Object::Reference(id) => {
                    return Err(PageTreeError(format!(
                        "page tree kid {} {} is missing or unreadable",
                        id.0, id.1
                    )))
                }
                _ => {
                    return Err(PageTreeError(format!(
                        "a page tree kid of object {} {} is not a reference",
                        node.0, node.1
                    )))
                }
            };
            let node = is_node(objects, id);
            if !seen.insert(id) {
                if node {
                    return Err(PageTreeError(format!(
                        "object {} {} is reached twice in the page tree (a loop or a shared node)",
                        id.0, id.1
                    )));
                }
                let next = objects
                    .keys()
                    .next_back()
                    .map_or(1, |k| k.0.saturating_add(1));
                let copy_id = (next, 0);
                let Some(copy) = objects.get(&id).cloned() else {
                    continue;
                };
                objects.insert(copy_id, copy);
                seen.insert(copy_id);
                tree.added.push(copy_id);
                tree.pages.push(copy_id);
                kept.push(copy_id);
                continue;
            }
            if node {
                stack.push((id, depth + 1));
            } else {
                tree.pages.push(id);
            }
            kept.push(id);
        }
        order.push((node, kept));
    }
    let mut counts: BTreeMap<ObjectId, u64> = BTreeMap::new();
    for (node, kids) in order.iter().rev() {
        let mut n: u64 = 0;
        for k in kids {
            n = n.saturating_add(counts.get(k).copied().unwrap_or(1));
        }
        counts.insert(*node, n);
        if let Some(Object::Dictionary(d)) = objects.get_mut(node) {
            d.set("Type", Object::Name(b"Pages".to_vec()));
            d.set(
                "Kids",
                Object::Array(kids.iter().map(|k| Object::Reference(*k)).collect()),
            );
            d.set(
                "Count",
                Object::Integer(i64::try_from(n).unwrap_or(i64::MAX)),
            );
        }
        for k in kids {
            if let Some(Object::Dictionary(kd)) = objects.get_mut(k) {
                kd.set("Parent", Object::Reference(*node));
                if !kd.has(b"Kids") && !kd.has(b"Type") {
                    kd.set("Type", Object::Name(b"Page".to_vec()));
                }
            }
        }
    }
    if let Some(Object::Dictionary(d)) = objects.get_mut(&root) {
        d.remove(b"Parent");
    }
    Ok(counts.get(&root).copied().unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use lopdf::dictionary;

    fn pages(kids: Vec<ObjectId>) -> Object {
        Object::Dictionary(dictionary! {
            "Type" => "Pages",
            "Kids" => kids.into_iter().map(Object::Reference).collect::<Vec<_>>(),
            "Count" => 99,
        })
    }

    fn page() -> Object {
        Object::Dictionary(dictionary! { "Type" => "Page" })
    }

    #[test]
    fn counts_are_recomputed_and_missing_kids_are_errors() {
        let mut o = BTreeMap::new();
        o.insert((1, 0), pages(vec![(2, 0), (3, 0), (9, 0)]));
        o.insert((2, 0), pages(vec![(4, 0), (5, 0)]));
        o.insert((3, 0), page());
        o.insert((4, 0), page());
        o.insert((5, 0), page());
        assert!(fix(&mut o, (1, 0), &mut Tree::default()).is_err());
        let mut o = BTreeMap::new();
        o.insert((1, 0), pages(vec![(2, 0), (3, 0)]));
        o.insert((2, 0), pages(vec![(4, 0), (5, 0)]));
        o.insert((3, 0), page());
        o.insert((4, 0), page());
        o.insert((5, 0), page());
        assert_eq!(fix(&mut o, (1, 0), &mut Tree::default()), Ok(3));
        let Some(Object::Dictionary(root)) = o.get(&(1, 0)) else {
            panic!("root gone")
        };
        assert_eq!(root.get(b"Count").and_then(|c| c.as_i64()).ok(), Some(3));
        assert_eq!(
            root.get(b"Kids")
                .and_then(|k| k.as_array())
                .map(|a| a.len())
                .ok(),
            Some(2)
        );
    }

    #[test]
    fn loops_and_shared_nodes_are_errors() {
        let mut o = BTreeMap::new();
        o.insert((1, 0), pages(vec![(2, 0)]));
        o.insert((2, 0), pages(vec![(1, 0)]));
        assert!(fix(&mut o, (1, 0), &mut Tree::default()).is_err());
        let mut o = BTreeMap::new();
        o.insert((1, 0), pages(vec![(2, 0), (3, 0)]));
        o.insert((2, 0), pages(vec![(4, 0)]));
        o.insert((3, 0), pages(vec![(2, 0)]));
        o.insert((4, 0), page());
        assert!(fix(&mut o, (1, 0), &mut Tree::default()).is_err());
    }

    #[test]
    fn a_page_listed_twice_becomes_a_copy() {
        let mut o = BTreeMap::new();
        o.insert((1, 0), pages(vec![(2, 0), (2, 0)]));
        o.insert((2, 0), page());
        let mut tree = Tree::default();
        assert_eq!(fix(&mut o, (1, 0), &mut tree), Ok(2));
        assert_eq!(tree.added, vec![(3, 0)]);
        assert_eq!(tree.pages, vec![(2, 0), (3, 0)]);
        assert!(o.contains_key(&(3, 0)));
    }
}
