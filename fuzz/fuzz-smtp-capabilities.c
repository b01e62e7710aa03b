/* fuzz-smtp-capabilities.c — libFuzzer target: EHLO replies through the capabilities parser.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The input is an EHLO reply. When it parses as a 2xx reply it is used as it is; in any case its
 * lines (split on CR or LF) also become the lines of a synthetic 250 reply, so that the fuzzer
 * spends its time on keywords and parameters rather than on reply framing. What the parser
 * extracts must be safe to send back: every mechanism it offers must make a valid AUTH command.
 */
#include <string.h>

#include "dispatch-engine.h"
#include "dispatch-smtp-auth.h"
#include "dispatch-smtp-capabilities.h"
#include "dispatch-smtp-command.h"
#include "dispatch-smtp-reply.h"
#include "dispatch-fuzz.h"

int
LLVMFuzzerInitialize (int    *argc,
                      char ***argv)
{
  dispatch_fuzz_init ();
  return 0;
}

static void
check_choice (const DispatchSmtpCapabilities *caps,
              const char                     *requested,
              gboolean                        oauth2,
              gboolean                        encrypted)
{
  const char * const *mechanisms = dispatch_smtp_capabilities_get_auth_mechanisms (caps);
  g_autoptr(GError) error = NULL;
  const char *chosen;

  chosen = dispatch_smtp_auth_choose (mechanisms, requested, oauth2, encrypted, &error);
  if (chosen == NULL)
    {
      g_assert_nonnull (error);
      return;
    }

  /* Never a mechanism the server did not offer (geary's habit, which we do not copy). */
  g_assert_no_error (error);
  g_assert_true (dispatch_smtp_capabilities_has_auth_mechanism (caps, chosen));
  g_assert_true (dispatch_smtp_auth_is_supported (chosen));
}

static void
check_capabilities (const DispatchSmtpReply *reply)
{
  g_autoptr(DispatchSmtpCapabilities) caps = dispatch_smtp_capabilities_new_from_ehlo (reply);
  g_autoptr(DispatchSmtpCapabilities) copy = NULL;
  const char * const *mechanisms;
  const char *domain;
  guint n = 0;

  g_assert_nonnull (caps);
  mechanisms = dispatch_smtp_capabilities_get_auth_mechanisms (caps);
  g_assert_nonnull (mechanisms);

  for (; mechanisms[n] != NULL; n++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *command = dispatch_smtp_command_auth (mechanisms[n], NULL, &error);
      g_autofree char *upper = g_ascii_strup (mechanisms[n], -1);

      g_assert_no_error (error);
      g_assert_nonnull (command);
      g_assert_cmpstr (upper, ==, mechanisms[n]);
      g_assert_true (dispatch_smtp_capabilities_has_auth_mechanism (caps, mechanisms[n]));
      for (guint k = 0; k < n; k++)
        g_assert_cmpstr (mechanisms[k], !=, mechanisms[n]);
    }

  /* Mechanisms can only come from an AUTH line. */
  if (n > 0)
    g_assert_true (dispatch_smtp_capabilities_has (caps, DISPATCH_SMTP_CAPABILITY_AUTH));
  if (!dispatch_smtp_capabilities_has (caps, DISPATCH_SMTP_CAPABILITY_SIZE))
    g_assert_cmpuint (dispatch_smtp_capabilities_get_max_size (caps), ==, 0);

  /* The domain reaches the UI and the result. */
  domain = dispatch_smtp_capabilities_get_domain (caps);
  if (domain != NULL)
    {
      g_assert_true (g_utf8_validate (domain, -1, NULL));
      g_assert_cmpuint (strlen (domain), >, 0);
      g_assert_null (strpbrk (domain, " \t\r\n"));
    }

  copy = dispatch_smtp_capabilities_copy (caps);
  g_assert_cmpuint (dispatch_smtp_capabilities_get_flags (copy), ==,
                    dispatch_smtp_capabilities_get_flags (caps));
  g_assert_cmpuint (dispatch_smtp_capabilities_get_max_size (copy), ==,
                    dispatch_smtp_capabilities_get_max_size (caps));
  g_assert_cmpstr (dispatch_smtp_capabilities_get_domain (copy), ==, domain);
  g_assert_cmpuint (g_strv_length ((char **) dispatch_smtp_capabilities_get_auth_mechanisms (copy)), ==, n);

  for (guint oauth2 = 0; oauth2 < 2; oauth2++)
    for (guint encrypted = 0; encrypted < 2; encrypted++)
      {
        check_choice (caps, NULL, oauth2, encrypted);
        if (n > 0)
          check_choice (caps, mechanisms[0], oauth2, encrypted);
      }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autofree char *text = g_strndup ((const char *) data, size);
  g_auto(GStrv) lines = NULL;
  g_autoptr(DispatchSmtpReply) parsed = NULL;
  g_autoptr(DispatchSmtpReply) built = NULL;
  gsize consumed = 0;
  guint n_lines;

  parsed = dispatch_smtp_reply_parse ((const char *) data, size, &consumed, NULL);
  if (parsed != NULL && dispatch_smtp_reply_get_class (parsed) == 2)
    check_capabilities (parsed);

  /* g_strndup stops at a NUL, as a C string would; split on both line ends so that no line
   * holds one (dispatch_smtp_reply_new refuses them). */
  lines = g_strsplit_set (text, "\r\n", -1);
  n_lines = g_strv_length (lines);
  /* No real reply gets past the connection with more lines than this. */
  for (guint i = DISPATCH_SMTP_REPLY_MAX_LINES; i < n_lines; i++)
    g_clear_pointer (&lines[i], g_free);
  built = dispatch_smtp_reply_new (250, (const char * const *) lines);
  check_capabilities (built);

  return 0;
}
