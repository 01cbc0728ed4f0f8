//! `supplyline oauth login`: getting the refresh token once, stored in
//! `oauth2.refresh_token_file` (created with mode 0600).
//!
//! - [`device_login`]: the device-code flow (RFC 8628), which works on a
//!   headless server: a URL and a code to enter in any browser, then the
//!   token endpoint is polled until the user has agreed. Microsoft's way.
//! - [`browser_login`]: the authorization-code flow with PKCE and a
//!   redirect to a port on 127.0.0.1 (RFC 8252), for Google, whose device
//!   flow does not allow the Gmail scope. On a headless server the port is
//!   forwarded with `ssh -L`.
//!
//! Owns: both flows and writing the refresh token file. The running
//! `serve` picks up a new file at its next token request, without a restart.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

use oauth2::basic::{BasicClient, BasicTokenResponse};
use oauth2::{
    AuthUrl, AuthorizationCode, CsrfToken, DeviceAuthorizationUrl, EndpointNotSet, EndpointSet,
    PkceCodeChallenge, RedirectUrl, Scope, StandardDeviceAuthorizationResponse, TokenResponse,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::settings::{Grant, OAuthSettings, Provider};
use super::token::{http_client, refused, token_client};
use super::OAuthError;

/// Runs the device-code flow, telling the operator what to do on `out`;
/// returns once the refresh token is stored.
pub async fn device_login(settings: &OAuthSettings, out: &mut dyn Write) -> Result<(), OAuthError> {
    let path = refresh_token_path(settings)?;
    let device_url = settings.device_url().ok_or(OAuthError::Config {
        key: "oauth2.device_url",
        what: "provider = \"generic\" needs the device authorization endpoint for `oauth login`"
            .into(),
    })?;
    let url = DeviceAuthorizationUrl::new(device_url.clone()).map_err(|e| OAuthError::Config {
        key: "oauth2.device_url",
        what: e.to_string(),
    })?;
    let client = token_client(settings)?.set_device_authorization_url(url);
    let http = http_client(settings)?;
    let scopes = settings.scopes().into_iter().map(Scope::new);
    let details: StandardDeviceAuthorizationResponse = client
        .exchange_device_code()
        .add_scopes(scopes)
        .request_async(&http)
        .await
        .map_err(|e| refused(e, &device_url, "device authorization", None))?;
    let say = |out: &mut dyn Write, text: String| {
        let _ = writeln!(out, "{text}");
        let _ = out.flush();
    };
    say(
        out,
        format!(
            "To let supplyline use the mailbox, open {} in a browser and enter the code {}\n\
             (signed in as the mailbox's user; the code is valid for {} minutes).",
            details.verification_uri().as_str(),
            details.user_code().secret(),
            details.expires_in().as_secs().div_ceil(60),
        ),
    );
    if let Some(complete) = details.verification_uri_complete() {
        say(out, format!("Or open {} directly.", complete.secret()));
    }
    say(out, "Waiting for the sign-in…".into());
    let token_url = client.token_uri().to_string();
    let token = client
        .exchange_device_access_token(&details)
        .request_async(&http, tokio::time::sleep, None)
        .await
        .map_err(|e| refused(e, &token_url, "device code", None))?;
    store(&token, path, &token_url, out)
}

/// Where the refresh token goes; only for `grant = "refresh_token"`.
fn refresh_token_path(settings: &OAuthSettings) -> Result<&Path, OAuthError> {
    if settings.grant != Grant::RefreshToken {
        return Err(OAuthError::Config {
            key: "oauth2.grant",
            what: "`oauth login` gets a refresh token; grant = \"client_credentials\" needs none"
                .into(),
        });
    }
    settings
        .refresh_token_file
        .as_deref()
        .ok_or(OAuthError::Config {
            key: "oauth2.refresh_token_file",
            what: "not set: where should the refresh token go?".into(),
        })
}

/// Writes the answer's refresh token to `path` and says so.
fn store(
    token: &BasicTokenResponse,
    path: &Path,
    token_url: &str,
    out: &mut dyn Write,
) -> Result<(), OAuthError> {
    let refresh = token.refresh_token().ok_or(OAuthError::BadAnswer {
        url: token_url.to_string(),
        what: "no refresh token in the answer (Microsoft gives one only with the scope \
               offline_access, Google only with access_type=offline)"
            .into(),
    })?;
    write_refresh_token(path, refresh.secret()).map_err(|source| OAuthError::File {
        key: "oauth2.refresh_token_file",
        path: path.to_path_buf(),
        source,
    })?;
    let _ = writeln!(
        out,
        "Signed in. The refresh token is stored in {} (mode 0600).",
        path.display()
    );
    Ok(())
}

/// How long the browser sign-in may take.
const BROWSER_WAIT: Duration = Duration::from_secs(600);

/// Runs the authorization-code flow with PKCE: prints the sign-in URL,
/// waits for the browser's redirect on 127.0.0.1:`port` (0: any free
/// port), exchanges the code and stores the refresh token.
pub async fn browser_login(
    settings: &OAuthSettings,
    port: u16,
    out: &mut dyn Write,
) -> Result<(), OAuthError> {
    let path = refresh_token_path(settings)?;
    let listener = TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|e| OAuthError::Config {
            key: "oauth2",
            what: format!(
                "cannot listen on 127.0.0.1:{port} for the browser's redirect: {e} (try another --port)"
            ),
        })?;
    let port = listener.local_addr().map(|a| a.port()).unwrap_or(port);
    let redirect = format!("http://127.0.0.1:{port}/");
    let client = browser_client(settings, &redirect)?;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut request = client
        .authorize_url(CsrfToken::new_random)
        .add_scopes(settings.scopes().into_iter().map(Scope::new))
        .set_pkce_challenge(challenge);
    if settings.provider == Provider::Google {
        // Without these Google gives no refresh token (or only the first time).
        request = request
            .add_extra_param("access_type", "offline")
            .add_extra_param("prompt", "consent");
    }
    let (url, state) = request.url();
    let _ = writeln!(
        out,
        "Open this address in a browser and sign in as the mailbox's user:\n{url}\n\
         The browser is then sent to {redirect}; from another machine, forward that port first:\n  \
         ssh -L {port}:127.0.0.1:{port} THIS-SERVER"
    );
    let _ = out.flush();
    let waiting = wait_for_code(&listener, state.secret());
    let code = tokio::time::timeout(BROWSER_WAIT, waiting)
        .await
        .map_err(|_| OAuthError::Config {
            key: "oauth2",
            what: format!(
                "no sign-in came back within {} minutes",
                BROWSER_WAIT.as_secs() / 60
            ),
        })??;
    let token_url = client.token_uri().to_string();
    let token = client
        .exchange_code(AuthorizationCode::new(code))
        .set_pkce_verifier(verifier)
        .request_async(&http_client(settings)?)
        .await
        .map_err(|e| refused(e, &token_url, "authorization code", None))?;
    store(&token, path, &token_url, out)
}

/// A client that knows the token and authorization endpoints, and where
/// the browser is sent back to.
fn browser_client(
    settings: &OAuthSettings,
    redirect: &str,
) -> Result<
    BasicClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>,
    OAuthError,
> {
    let auth_url = settings.auth_url().ok_or(OAuthError::Config {
        key: "oauth2.auth_url",
        what: "provider = \"generic\" needs the authorization endpoint for `oauth login --browser`"
            .into(),
    })?;
    let auth_url = AuthUrl::new(auth_url).map_err(|e| OAuthError::Config {
        key: "oauth2.auth_url",
        what: e.to_string(),
    })?;
    let redirect_url = RedirectUrl::new(redirect.to_string()).map_err(|e| OAuthError::Config {
        key: "oauth2",
        what: e.to_string(),
    })?;
    Ok(token_client(settings)?
        .set_auth_uri(auth_url)
        .set_redirect_uri(redirect_url))
}

/// Answers requests on `listener` until one carries the expected `state`
/// with the authorization code (returned) or an error.
async fn wait_for_code(listener: &TcpListener, state: &str) -> Result<String, OAuthError> {
    loop {
        let Ok((mut stream, _)) = listener.accept().await else {
            continue;
        };
        let params = read_query(&mut stream).await;
        let ours = params.get("state").map(String::as_str) == Some(state);
        let (page, outcome) = match (params.get("code"), params.get("error")) {
            _ if !ours => ("Not the sign-in supplyline waits for.", None),
            (_, Some(error)) => (
                "The sign-in was refused; see the terminal.",
                Some(Err(OAuthError::Refused {
                    grant: "browser sign-in",
                    url: "the authorization endpoint".into(),
                    code: error.clone(),
                    description: params.get("error_description").cloned(),
                    refresh_token_file: None,
                })),
            ),
            (Some(code), None) => (
                "supplyline is signed in. You can close this tab.",
                Some(Ok(code.clone())),
            ),
            (None, None) => ("Not the sign-in supplyline waits for.", None),
        };
        let status = if outcome.is_some() {
            "200 OK"
        } else {
            "404 Not Found"
        };
        let response = format!(
            "HTTP/1.1 {status}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{page}",
            page.len()
        );
        let _ = stream.write_all(response.as_bytes()).await;
        let _ = stream.shutdown().await;
        if let Some(outcome) = outcome {
            return outcome;
        }
    }
}

/// The query parameters of one HTTP request's target (head up to 16 KiB).
async fn read_query(stream: &mut tokio::net::TcpStream) -> HashMap<String, String> {
    let mut head = Vec::new();
    let mut buf = [0u8; 2048];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let text = String::from_utf8_lossy(&head);
    let target = text.split_whitespace().nth(1).unwrap_or("/");
    oauth2::url::Url::parse(&format!("http://127.0.0.1{target}"))
        .map(|u| u.query_pairs().into_owned().collect())
        .unwrap_or_default()
}
/// Replaces `path` with `token`: written to a new 0600 file beside it,
/// synced, then renamed over, so a reader sees the old token or the new.
pub fn write_refresh_token(path: &Path, token: &str) -> std::io::Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = path.with_file_name(format!(".{name}.{}.new", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let written = (|| {
        let mut file = options.open(&temp)?;
        file.write_all(token.as_bytes())?;
        file.write_all(b"\n")?;
        file.sync_all()?;
        std::fs::rename(&temp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_refresh_token_file_is_0600_and_replaced_whole() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("refresh-token");
        std::fs::write(&path, "old\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        write_refresh_token(&path, "new-token").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new-token\n");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
