//! Group member rows: resolving member kinds, adding and removing members, applying a
//! PATCH's member changes without listing the rest (a large group takes one member in one row).

use std::collections::HashMap;

use crate::store::db::DbConn;
use diesel::prelude::*;
use serde_json::{Value, json};

use crate::store::StoreError;
use crate::store::schema::{group_members, resources};
use scim::ScimError;
use scim::filter::{self};
use scim::patch::MemberChange;
use scim::resource::Member;
use scim::schema::ResourceType;

use super::*;

/// The `type` of each member: the kind of the stored resource it names. Member values are ids
/// this server assigned, so one naming no stored resource is refused (400 `invalidValue`
/// naming it): no identity provider's ordering can produce it (inside Bulk, `bulkId`
/// references are resolved before the group is written). On PostgreSQL the members' rows are
/// share-locked, so a concurrent DELETE of one of them waits for this write and then removes
/// the new membership with the others (see `delete_rows`), or this write sees it gone.
pub(super) fn member_kinds(conn: &mut DbConn, members: &[Member]) -> Result<Vec<MemberKind>, StoreError> {
    let mut out = Vec::with_capacity(members.len());
    for chunk in members.chunks(500) {
        let ids: Vec<&str> = chunk.iter().map(|m| m.value.as_str()).collect();
        let named = resources::table.filter(resources::id.eq_any(&ids)).select((resources::id, resources::kind));
        let found: HashMap<String, String> = match conn {
            DbConn::Pg(pg) => named.for_share().load::<(String, String)>(pg)?,
            DbConn::Sqlite(lite) => named.load::<(String, String)>(lite)?,
        }
        .into_iter()
        .collect();
        for m in chunk {
            let Some(kind) = found.get(&m.value) else {
                return Err(StoreError::Invalid(ScimError::invalid_value(format!(
                    "members: no User or Group has the id {}; a member's 'value' must be the 'id' this server \
                     assigned (create the user first, or refer to it by bulkId inside one Bulk request)",
                    scim::error::quoted(&m.value)
                ))));
            };
            out.push(MemberKind::parse(kind).unwrap_or(MemberKind::User));
        }
    }
    Ok(out)
}

pub(super) fn add_members(conn: &mut DbConn, group_seq: i64, members: &[Member]) -> Result<usize, StoreError> {
    let kinds = member_kinds(conn, members)?;
    let mut n = 0;
    for (m, kind) in members.iter().zip(kinds) {
        n += crate::store::db::each!(conn, |conn| diesel::insert_into(group_members::table)
            .values((
                group_members::group_seq.eq(group_seq),
                group_members::member_id.eq(&m.value),
                group_members::member_type.eq(kind.as_str()),
                group_members::display.eq(&m.display),
            ))
            .on_conflict_do_nothing()
            .execute(conn))?;
    }
    Ok(n)
}

pub(super) fn member_from_value(v: &Value) -> Option<Member> {
    let value = v.get("value").and_then(Value::as_str)?.to_string();
    Some(Member {
        value,
        kind: v.get("type").and_then(Value::as_str).map(str::to_string),
        display: v.get("display").and_then(Value::as_str).map(str::to_string),
    })
}

pub(super) fn members_of_values(values: &[Value]) -> Result<Vec<Member>, StoreError> {
    values
        .iter()
        .map(|v| {
            member_from_value(v).ok_or_else(|| {
                StoreError::Invalid(ScimError::invalid_value(
                    "each member needs a string 'value' holding a User or Group id",
                ))
            })
        })
        .collect()
}

/// Apply one member change; returns whether rows changed.
pub(super) fn apply_member_change(
    conn: &mut DbConn,
    rt: &ResourceType,
    seq: i64,
    change: &MemberChange,
) -> Result<bool, StoreError> {
    let in_group = group_members::table.filter(group_members::group_seq.eq(seq));
    Ok(match change {
        MemberChange::Add(values) => add_members(conn, seq, &members_of_values(values)?)? > 0,
        MemberChange::RemoveAll => diesel::delete(in_group).execute(conn)? > 0,
        MemberChange::RemoveValues(ids) => {
            diesel::delete(in_group.filter(group_members::member_id.eq_any(ids))).execute(conn)? > 0
        }
        MemberChange::RemoveMatching(val_filter) => {
            let parent = rt.core_attribute("members");
            let rows: Vec<(String, String)> =
                in_group.select((group_members::member_id, group_members::member_type)).load(conn)?;
            let doomed: Vec<String> = rows
                .into_iter()
                .filter(|(id, kind)| {
                    let kind = MemberKind::of_row(kind).as_str();
                    filter::matches_element(parent, val_filter, &json!({"value": id, "type": kind}))
                })
                .map(|(id, _)| id)
                .collect();
            let mut n = 0;
            for chunk in doomed.chunks(500) {
                n += diesel::delete(
                    group_members::table
                        .filter(group_members::group_seq.eq(seq))
                        .filter(group_members::member_id.eq_any(chunk)),
                )
                .execute(conn)?;
            }
            n > 0
        }
        MemberChange::ReplaceAll(values) => {
            let members = members_of_values(values)?;
            let removed = diesel::delete(in_group).execute(conn)?;
            let added = add_members(conn, seq, &members)?;
            removed > 0 || added > 0
        }
    })
}

/// Members of a group, as rendered: id, type, display (`$ref` is added by the renderer).
pub(crate) fn load_members(conn: &mut DbConn, group_seq: i64) -> Result<Vec<MemberRow>, StoreError> {
    let rows: Vec<(String, String, Option<String>)> = group_members::table
        .filter(group_members::group_seq.eq(group_seq))
        .select((group_members::member_id, group_members::member_type, group_members::display))
        .load(conn)?;
    Ok(rows.into_iter().map(|(id, kind, display)| MemberRow { id, kind: MemberKind::of_row(&kind), display }).collect())
}
