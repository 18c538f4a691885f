//! Diesel table definitions; they mirror `migrations/`.

diesel::table! {
    resources (seq) {
        seq -> BigInt,
        kind -> Text,
        id -> Text,
        user_name -> Nullable<Text>,
        external_id -> Nullable<Text>,
        display_name -> Nullable<Text>,
        active -> Nullable<Bool>,
        created -> BigInt,
        last_modified -> BigInt,
        version -> BigInt,
        doc -> Text,
    }
}

diesel::table! {
    resource_values (attr, value, seq) {
        seq -> BigInt,
        attr -> Text,
        value -> Text,
    }
}

diesel::table! {
    group_members (group_seq, member_id) {
        group_seq -> BigInt,
        member_id -> Text,
        member_type -> Text,
        display -> Nullable<Text>,
    }
}

diesel::table! {
    page_counts (kind, bucket) {
        kind -> Text,
        bucket -> BigInt,
        n -> BigInt,
    }
}

diesel::table! {
    tokens (name) {
        name -> Text,
        hash -> Text,
        created -> BigInt,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    resources,
    resource_values,
    group_members,
    page_counts,
    tokens,
    outbox,
    outbox_dead,
    genesys_links,
    genesys_group_members,
    genesys_owned_users
);

diesel::table! {
    outbox (kind, resource_id) {
        kind -> Text,
        resource_id -> Text,
        op -> Text,
        user_name -> Nullable<Text>,
        revision -> BigInt,
        attempts -> BigInt,
        not_before -> BigInt,
        last_error -> Nullable<Text>,
        created -> BigInt,
        updated -> BigInt,
        lease_owner -> Nullable<Text>,
        lease_until -> Nullable<BigInt>,
    }
}

diesel::table! {
    rate_budget (name) {
        name -> Text,
        tokens -> Double,
        updated -> BigInt,
        per_minute -> Nullable<Double>,
    }
}

diesel::table! {
    outbox_dead (kind, resource_id) {
        kind -> Text,
        resource_id -> Text,
        op -> Text,
        user_name -> Nullable<Text>,
        revision -> BigInt,
        attempts -> BigInt,
        last_error -> Text,
        created -> BigInt,
        died -> BigInt,
    }
}

diesel::table! {
    genesys_group_members (group_id, genesys_group_id, genesys_user_id) {
        group_id -> Text,
        genesys_group_id -> Text,
        genesys_user_id -> Text,
    }
}

diesel::table! {
    genesys_owned_users (resource_id) {
        resource_id -> Text,
        user_name -> Text,
        genesys_id -> Nullable<Text>,
        how -> Text,
        at -> BigInt,
        written -> Nullable<Text>,
        roles_granted -> Nullable<Text>,
    }
}

diesel::table! {
    genesys_links (kind, resource_id) {
        kind -> Text,
        resource_id -> Text,
        genesys_id -> Text,
    }
}

diesel::table! {
    dry_run_requests (seq) {
        seq -> BigInt,
        at -> BigInt,
        kind -> Text,
        resource_id -> Text,
        method -> Text,
        path -> Text,
        body -> Nullable<Text>,
        body_after_read -> Bool,
        note -> Nullable<Text>,
    }
}

diesel::table! {
    reconcile_reports (seq) {
        seq -> BigInt,
        at -> BigInt,
        report -> Text,
    }
}

diesel::table! {
    audit_log (seq) {
        seq -> BigInt,
        at -> BigInt,
        op -> Text,
        bulk -> Bool,
        kind -> Text,
        resource_id -> Text,
        name -> Nullable<Text>,
        version -> Nullable<BigInt>,
        paths -> Nullable<Text>,
        actor_type -> Text,
        actor -> Nullable<Text>,
        issuer -> Nullable<Text>,
        address -> Nullable<Text>,
        request_id -> Nullable<Text>,
    }
}
