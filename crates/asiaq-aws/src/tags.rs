//! Tags: AWS tags are asiaq's state (there is no state file), so every resource asiaq
//! creates carries tags that let it be found again.

use aws_sdk_ec2::types::{ResourceType, Tag, TagSpecification};

/// EC2 tags from `(key, value)` pairs.
pub fn ec2_tags<K: AsRef<str>, V: AsRef<str>>(pairs: &[(K, V)]) -> Vec<Tag> {
    pairs
        .iter()
        .map(|(k, v)| Tag::builder().key(k.as_ref()).value(v.as_ref()).build())
        .collect()
}

/// A TagSpecification that tags a resource as it is created (so a resource never exists
/// untagged, even if the command dies right after creating it).
pub fn ec2_tag_spec<K: AsRef<str>, V: AsRef<str>>(
    resource: ResourceType,
    pairs: &[(K, V)],
) -> TagSpecification {
    TagSpecification::builder()
        .resource_type(resource)
        .set_tags(Some(ec2_tags(pairs)))
        .build()
}

/// The value of tag `key` in an EC2 tag list.
pub fn ec2_tag<'a>(tags: &'a [Tag], key: &str) -> Option<&'a str> {
    tags.iter()
        .find(|t| t.key() == Some(key))
        .and_then(|t| t.value())
}
