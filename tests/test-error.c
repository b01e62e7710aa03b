/* test-error.c — the error domain: extended data, formatting, provider hints.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <string.h>

#include "dispatch-engine.h"
#include "dispatch-smtp-certificate.h"

static void
test_extended_data (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GError) copy = NULL;

  dispatch_set_error (&error, DISPATCH_ERROR_AUTH_FAILED, DISPATCH_SMTP_STAGE_AUTH,
                      "535-5.7.8 Username and Password not accepted.\n535 5.7.8 Learn more",
                      "Use an app password.", "The sign-in as %s was refused.", "alice");

  g_assert_error (error, DISPATCH_ERROR, DISPATCH_ERROR_AUTH_FAILED);
  g_assert_cmpstr (error->message, ==, "The sign-in as alice was refused.");
  g_assert_cmpint (dispatch_error_get_stage (error), ==, DISPATCH_SMTP_STAGE_AUTH);
  g_assert_cmpstr (dispatch_error_get_hint (error), ==, "Use an app password.");
  g_assert_true (g_str_has_prefix (dispatch_error_get_reply (error), "535-5.7.8"));

  /* The data travels with copies: GTask and g_propagate_error copy errors around. */
  copy = g_error_copy (error);
  g_assert_cmpint (dispatch_error_get_stage (copy), ==, DISPATCH_SMTP_STAGE_AUTH);
  g_assert_cmpstr (dispatch_error_get_reply (copy), ==, dispatch_error_get_reply (error));
  g_assert_true (dispatch_error_get_reply (copy) != dispatch_error_get_reply (error));
  g_assert_cmpstr (dispatch_error_get_hint (copy), ==, "Use an app password.");
}

static void
test_null_error (void)
{
  /* Callers that do not care pass NULL; nothing happens. */
  dispatch_set_error (NULL, DISPATCH_ERROR_FAILED, DISPATCH_SMTP_STAGE_NONE, NULL, NULL, "x");
}

static void
test_other_domains (void)
{
  g_autoptr(GError) error = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED, "Cancelled");
  g_autofree char *text = dispatch_error_format (error);

  g_assert_cmpint (dispatch_error_get_stage (error), ==, DISPATCH_SMTP_STAGE_NONE);
  g_assert_null (dispatch_error_get_reply (error));
  g_assert_null (dispatch_error_get_hint (error));
  g_assert_null (dispatch_error_get_certificate (error));
  g_assert_cmpstr (text, ==, "Cancelled");
}

static void
test_format (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;

  dispatch_set_error (&error, DISPATCH_ERROR_MESSAGE_REFUSED, DISPATCH_SMTP_STAGE_DATA,
                      "554-5.7.1 Rejected\n554 5.7.1 Looks like spam", "Read the reply.",
                      "The server refused the message.");
  text = dispatch_error_format (error);
  g_assert_true (g_str_has_prefix (text, "The server refused the message.\n"));
  g_assert_nonnull (strstr (text, "\n  554-5.7.1 Rejected\n  554 5.7.1 Looks like spam\n"));
  g_assert_true (g_str_has_suffix (text, "\nRead the reply."));
}

static void
test_certificate (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GError) copy = NULL;
  g_autofree char *path = g_test_build_filename (G_TEST_DIST, "files", "self-signed.pem", NULL);
  g_autoptr(GTlsCertificate) certificate = g_tls_certificate_new_from_file (path, NULL);

  g_assert_nonnull (certificate);
  dispatch_set_error (&error, DISPATCH_ERROR_CERTIFICATE_UNTRUSTED, DISPATCH_SMTP_STAGE_TLS,
                      NULL, NULL, "untrusted");
  dispatch_error_set_certificate (error, certificate, G_TLS_CERTIFICATE_UNKNOWN_CA, "abcd");
  copy = g_error_copy (error);
  g_assert_true (dispatch_error_get_certificate (copy) == certificate);
  g_assert_cmpint (dispatch_error_get_certificate_flags (copy), ==, G_TLS_CERTIFICATE_UNKNOWN_CA);
  g_assert_cmpstr (dispatch_error_get_fingerprint (copy), ==, "abcd");
}

static void
test_auth_hints (void)
{
  const char *generic = dispatch_error_auth_hint ("mail.example.org");
  const char *gmail = dispatch_error_auth_hint ("smtp.gmail.com");

  g_assert_nonnull (generic);
  g_assert_nonnull (strstr (gmail, "app password"));
  g_assert_cmpstr (gmail, !=, generic);
  g_assert_cmpstr (dispatch_error_auth_hint ("SMTP.GMAIL.COM"), ==, gmail);
  g_assert_cmpstr (dispatch_error_auth_hint ("smtp.mail.yahoo.com"), !=, generic);
  g_assert_cmpstr (dispatch_error_auth_hint ("smtp.mail.me.com"), !=, generic);
  g_assert_cmpstr (dispatch_error_auth_hint ("smtp.office365.com"), !=, generic);
  /* A look-alike is not Gmail. */
  g_assert_cmpstr (dispatch_error_auth_hint ("gmail.com.evil.example"), ==, generic);
}

static void
test_stage_names (void)
{
  for (DispatchSmtpStage stage = DISPATCH_SMTP_STAGE_CONNECT; stage <= DISPATCH_SMTP_STAGE_MESSAGE; stage++)
    g_assert_cmpuint (strlen (dispatch_smtp_stage_to_string (stage)), >, 0);
  g_assert_cmpstr (dispatch_smtp_stage_to_string (DISPATCH_SMTP_STAGE_NONE), ==, "");
}

/* The one wording of a refused certificate, which the error message and the trust dialog share:
 * every reason in the order the connection reports them, the server named where it matters. */
static void
test_certificate_flags (void)
{
  g_autofree char *none = dispatch_smtp_certificate_describe_flags (0, "mx.example.org");
  g_autofree char *one = dispatch_smtp_certificate_describe_flags (G_TLS_CERTIFICATE_EXPIRED, "mx.example.org");
  g_autofree char *two = dispatch_smtp_certificate_describe_flags (G_TLS_CERTIFICATE_UNKNOWN_CA |
                                                                    G_TLS_CERTIFICATE_BAD_IDENTITY,
                                                                    "mx.example.org");

  g_assert_cmpstr (none, ==, "It could not be validated.");
  g_assert_cmpstr (one, ==, "It has expired.");
  g_assert_cmpstr (two, ==, "It is not signed by a known certificate authority (unknown issuer). "
                            "It was not issued for mx.example.org (wrong host name).");
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  dispatch_engine_init ();

  g_test_add_func ("/error/extended-data", test_extended_data);
  g_test_add_func ("/error/null", test_null_error);
  g_test_add_func ("/error/other-domains", test_other_domains);
  g_test_add_func ("/error/format", test_format);
  g_test_add_func ("/error/certificate", test_certificate);
  g_test_add_func ("/error/certificate-flags", test_certificate_flags);
  g_test_add_func ("/error/auth-hints", test_auth_hints);
  g_test_add_func ("/error/stage-names", test_stage_names);

  return g_test_run ();
}
