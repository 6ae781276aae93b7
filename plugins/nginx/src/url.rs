//! `nginx_status_url`: what the check reads from it (the tags' host and
//! port, credentials written into it) and how a redirect's `Location`
//! is resolved against it.

use http::Uri;

/// The status URL, split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusUrl {
    /// The URL requested: as written, minus any `user:password@`.
    pub url: String,
    /// `http` or `https`, lower case.
    pub scheme: String,
    /// The host as Python's `urlparse(url).hostname` gives it (what
    /// Datadog tags with): lower case, IPv6 without brackets.
    pub host: String,
    /// The URL's port, or 80 when it has none, as Datadog's check does
    /// (`parsed_url.port or 80`, even for https).
    pub tag_port: u16,
    /// `user:password@` from the URL, percent-decoded, as `requests`
    /// reads them.
    pub userinfo: Option<(String, String)>,
}

impl StatusUrl {
    pub fn parse(url: &str) -> Result<StatusUrl, String> {
        let url = url.trim();
        if url.is_empty() {
            return Err(
                "`nginx_status_url` is empty; write the URL of nginx's stub_status \
                        page, e.g. http://localhost:81/nginx_status"
                    .to_string(),
            );
        }
        if !url.contains("://") {
            return Err(format!(
                "`nginx_status_url` `{url}` has no scheme; write http://{url} or https://{url}"
            ));
        }
        let uri: Uri = url.parse().map_err(|e| {
            format!(
                "`nginx_status_url` `{url}` is not a valid URL ({e}); write e.g. \
                 http://localhost:81/nginx_status"
            )
        })?;
        let scheme = match uri.scheme_str() {
            Some(s) if s.eq_ignore_ascii_case("http") || s.eq_ignore_ascii_case("https") => {
                s.to_ascii_lowercase()
            }
            Some(other) => {
                return Err(format!(
                    "`nginx_status_url` `{url}` has the scheme `{other}`; only http:// and \
                     https:// are supported"
                ));
            }
            None => {
                return Err(format!(
                    "`nginx_status_url` `{url}` has no scheme; write http://{url} or https://{url}"
                ));
            }
        };
        let authority = uri
            .authority()
            .ok_or_else(|| format!("`nginx_status_url` `{url}` has no host"))?;
        let userinfo = authority.as_str().rsplit_once('@').map(|(u, _)| u);
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase();
        if host.is_empty() {
            return Err(format!("`nginx_status_url` `{url}` has no host"));
        }
        let userinfo = userinfo.map(|u| {
            let (user, password) = u.split_once(':').unwrap_or((u, ""));
            (percent_decode(user), percent_decode(password))
        });
        // The URL without its credentials: what is requested and shown.
        let url = match userinfo {
            Some(_) => {
                let start = url.find("://").map_or(0, |i| i + 3);
                let end = url[start..]
                    .find(['/', '?', '#'])
                    .map_or(url.len(), |i| start + i);
                let at = url[start..end].rfind('@').map_or(start, |i| start + i + 1);
                format!("{}{}", &url[..start], &url[at..])
            }
            None => url.to_string(),
        };
        Ok(StatusUrl {
            url,
            scheme,
            host,
            tag_port: authority.port_u16().unwrap_or(80),
            userinfo,
        })
    }

    pub fn is_https(&self) -> bool {
        self.scheme == "https"
    }
}

/// `%XX` escapes decoded (invalid ones kept as written), as Python's
/// `unquote`.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Scheme and authority (`host:port`, lower case) of an absolute URL.
pub fn origin(url: &str) -> Option<(String, String)> {
    let uri: Uri = url.parse().ok()?;
    let scheme = uri.scheme_str()?.to_ascii_lowercase();
    let authority = uri.authority()?;
    let host = authority.host().to_ascii_lowercase();
    let port = authority
        .port_u16()
        .unwrap_or(if scheme == "https" { 443 } else { 80 });
    Some((scheme, format!("{host}:{port}")))
}

/// The URL a redirect from `base` to `location` leads to, as a browser
/// (and Python's `urljoin`) resolves it: absolute, scheme-relative
/// (`//host/path`), absolute path or relative path. The fragment is
/// dropped.
pub fn resolve(base: &str, location: &str) -> String {
    let location = location.trim();
    let location = location.split('#').next().unwrap_or("");
    let lower = location.to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") {
        return location.to_string();
    }
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    if let Some(rest) = location.strip_prefix("//") {
        return format!("{}{rest}", &base[..scheme_end]);
    }
    let path_start = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |i| scheme_end + i);
    let origin = &base[..path_start];
    if location.starts_with('/') {
        return format!("{origin}{location}");
    }
    let path = &base[path_start..];
    let path = path.split(['?', '#']).next().unwrap_or("");
    if location.is_empty() {
        return base.split('#').next().unwrap_or(base).to_string();
    }
    if location.starts_with('?') {
        return format!("{origin}{path}{location}");
    }
    let directory = match path.rfind('/') {
        Some(i) => &path[..=i],
        None => "/",
    };
    format!(
        "{origin}{}",
        remove_dot_segments(&format!("{directory}{location}"))
    )
}

/// RFC 3986 section 5.2.4, for the path part (a query is kept as is).
fn remove_dot_segments(path_and_query: &str) -> String {
    let (path, query) = match path_and_query.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (path_and_query, None),
    };
    let mut out: Vec<&str> = Vec::new();
    let segments: Vec<&str> = path.split('/').collect();
    let last = segments.len() - 1;
    for (i, segment) in segments.iter().enumerate() {
        match *segment {
            "." => {
                if i == last {
                    out.push("");
                }
            }
            ".." => {
                if out.len() > 1 {
                    out.pop();
                }
                if i == last {
                    out.push("");
                }
            }
            s => out.push(s),
        }
    }
    let mut joined = out.join("/");
    if !joined.starts_with('/') {
        joined.insert(0, '/');
    }
    match query {
        Some(q) => format!("{joined}?{q}"),
        None => joined,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_and_port_as_datadog_tags_them() {
        let u = StatusUrl::parse("http://LocalHost:8080/nginx_status").unwrap();
        assert_eq!((u.host.as_str(), u.tag_port), ("localhost", 8080));
        assert_eq!(u.url, "http://LocalHost:8080/nginx_status");
        assert_eq!(u.userinfo, None);
        assert!(!u.is_https());
        // No port: 80, even for https (Datadog's `parsed_url.port or 80`).
        let u = StatusUrl::parse("https://status.example.com/nginx_status").unwrap();
        assert_eq!((u.host.as_str(), u.tag_port), ("status.example.com", 80));
        assert!(u.is_https());
        let u = StatusUrl::parse("http://[::1]:81/nginx_status/").unwrap();
        assert_eq!((u.host.as_str(), u.tag_port), ("::1", 81));
        let u = StatusUrl::parse(" http://127.0.0.1 ").unwrap();
        assert_eq!((u.host.as_str(), u.tag_port), ("127.0.0.1", 80));
        assert_eq!(u.url, "http://127.0.0.1");
    }

    #[test]
    fn credentials_in_the_url_are_taken_out() {
        let u = StatusUrl::parse("http://alice:s%40cret@localhost:81/nginx_status").unwrap();
        assert_eq!(u.url, "http://localhost:81/nginx_status");
        assert_eq!(
            u.userinfo,
            Some(("alice".to_string(), "s@cret".to_string()))
        );
        assert_eq!(u.host, "localhost");
        let u = StatusUrl::parse("https://bob@localhost/s").unwrap();
        assert_eq!(u.url, "https://localhost/s");
        assert_eq!(u.userinfo, Some(("bob".to_string(), String::new())));
    }

    #[test]
    fn unusable_urls_say_what_to_write() {
        assert!(StatusUrl::parse("").unwrap_err().contains("is empty"));
        assert!(
            StatusUrl::parse("localhost:81/nginx_status")
                .unwrap_err()
                .contains("scheme")
        );
        assert!(
            StatusUrl::parse("ftp://localhost/nginx_status")
                .unwrap_err()
                .contains("only http:// and https://")
        );
        assert!(
            StatusUrl::parse("http://local host/")
                .unwrap_err()
                .contains("not a valid URL")
        );
        assert!(StatusUrl::parse("/nginx_status").is_err());
    }

    #[test]
    fn percent_decoding_keeps_invalid_escapes() {
        assert_eq!(percent_decode("a%20b%zz%4"), "a b%zz%4");
        assert_eq!(percent_decode("%C3%A9"), "é");
    }

    #[test]
    fn redirects_resolve_like_a_browser() {
        let base = "http://h:81/a/nginx_status?x=1";
        assert_eq!(resolve(base, "https://other/s"), "https://other/s");
        assert_eq!(resolve(base, "//other:82/s"), "http://other:82/s");
        assert_eq!(resolve(base, "/nginx_status/"), "http://h:81/nginx_status/");
        assert_eq!(resolve(base, "status"), "http://h:81/a/status");
        assert_eq!(resolve(base, "../status#frag"), "http://h:81/status");
        assert_eq!(resolve(base, "./s/?q=2"), "http://h:81/a/s/?q=2");
        assert_eq!(resolve(base, "?y=2"), "http://h:81/a/nginx_status?y=2");
        assert_eq!(resolve("http://h", "s"), "http://h/s");
        assert_eq!(resolve("http://h/", "../../s"), "http://h/s");
    }

    #[test]
    fn origins_compare_host_and_port() {
        assert_eq!(
            origin("http://LOCALHOST/x"),
            Some(("http".to_string(), "localhost:80".to_string()))
        );
        assert_eq!(
            origin("https://h:8443/"),
            Some(("https".to_string(), "h:8443".to_string()))
        );
        assert_eq!(origin("/relative"), None);
    }
}
