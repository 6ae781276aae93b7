//! Container id of a process, from the cgroup paths in `/proc/<pid>/cgroup`.
//!
//! Runtimes name a container's cgroup after its id: docker `/docker/<id>`
//! (v1) or `docker-<id>.scope` (systemd), containerd
//! `cri-containerd-<id>.scope`, CRI-O `crio-<id>.scope`, podman
//! `libpod-<id>.scope`, kubelet `/kubepods/.../pod<uid>/<id>`, all with a
//! 64-hex id; ECS uses `<32 hex>-<digits>`. Hand-parsed: a path component
//! test is shorter and faster than a regex per line.

/// The container id in the content of a `cgroup` file, or `None` when the
/// process is not in a container.
pub(super) fn container_id(cgroup: &[u8]) -> Option<&str> {
    // Lines are `hierarchy-id:controllers:path` (v1 has one per hierarchy,
    // v2 the single `0::path`).
    cgroup.split(|&b| b == b'\n').find_map(|line| {
        let path = line.splitn(3, |&b| b == b':').nth(2)?;
        // The innermost component naming a container wins (a process in a
        // sub-cgroup of its container, or docker in docker).
        path.rsplit(|&b| b == b'/').find_map(component_id)
    })
}

fn component_id(component: &[u8]) -> Option<&str> {
    let name = component.strip_suffix(b".scope").unwrap_or(component);
    // `docker-<id>`, `cri-containerd-<id>`, ...: the id after the last dash.
    let last = name.rsplit(|&b| b == b'-').next()?;
    let id = if is_hex(last, 64) {
        last
    } else if is_ecs_id(name) {
        name
    } else {
        return None;
    };
    // Only ASCII hex digits, dashes and digits: valid UTF-8.
    std::str::from_utf8(id).ok()
}

/// ECS: `<32 hex>-<digits>`.
fn is_ecs_id(name: &[u8]) -> bool {
    match name.split_at_checked(32) {
        Some((hex, rest)) => {
            is_hex(hex, 32)
                && rest.len() > 1
                && rest[0] == b'-'
                && rest[1..].iter().all(u8::is_ascii_digit)
        }
        None => false,
    }
}

/// Exactly `len` lowercase hex digits.
fn is_hex(s: &[u8], len: usize) -> bool {
    s.len() == len && s.iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "3f2a9c1e5b7d4f608192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8";

    #[test]
    fn ids_of_each_runtime() {
        let cases = [
            // docker, cgroup v1 (one line per hierarchy).
            format!(
                "12:pids:/docker/{ID}\n11:memory:/docker/{ID}\n0::/system.slice/containerd.service\n"
            ),
            // docker, cgroup v2 with the systemd driver.
            format!("0::/system.slice/docker-{ID}.scope\n"),
            // containerd under kubelet, v2 systemd driver.
            format!(
                "0::/kubepods.slice/kubepods-burstable.slice/\
                 kubepods-burstable-pod1c2d3e4f_5a6b_7c8d_9e0f_a1b2c3d4e5f6.slice/cri-containerd-{ID}.scope\n"
            ),
            // kubelet with the cgroupfs driver, v1.
            format!(
                "4:cpu,cpuacct:/kubepods/besteffort/pod1c2d3e4f-5a6b-7c8d-9e0f-a1b2c3d4e5f6/{ID}\n"
            ),
            // CRI-O and podman.
            format!("0::/kubepods.slice/kubepods-pod1.slice/crio-{ID}.scope\n"),
            format!("0::/machine.slice/libpod-{ID}.scope\n"),
            // systemd running inside the container: a sub-cgroup.
            format!("0::/system.slice/docker-{ID}.scope/init.scope\n"),
        ];
        for cgroup in &cases {
            assert_eq!(container_id(cgroup.as_bytes()), Some(ID), "{cgroup}");
        }
    }

    #[test]
    fn ecs_ids() {
        let cgroup = b"9:perf_event:/ecs/0123456789abcdef0123456789abcdef/\
            0123456789abcdef0123456789abcdef-3725912345\n";
        assert_eq!(
            container_id(cgroup),
            Some("0123456789abcdef0123456789abcdef-3725912345")
        );
    }

    #[test]
    fn no_container() {
        for cgroup in [
            "0::/\n",
            "0::/init.scope\n",
            "0::/user.slice/user-1000.slice/user@1000.service/app.slice/app-gnome-firefox-4242.scope\n",
            "0::/user.slice/user-1000.slice/session-3.scope\n",
            "12:pids:/user.slice\n1:name=systemd:/system.slice/sshd.service\n",
            // The ECS task directory alone (32 hex, no dash) and an id with
            // uppercase digits are not container ids.
            "9:perf_event:/ecs/0123456789abcdef0123456789abcdef\n",
            &format!("0::/docker/{}\n", ID.to_uppercase()),
            // One hex digit short.
            &format!("0::/docker/{}\n", &ID[1..]),
            "",
        ] {
            assert_eq!(container_id(cgroup.as_bytes()), None, "{cgroup}");
        }
    }
}
