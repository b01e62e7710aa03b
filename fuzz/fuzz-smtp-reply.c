/* fuzz-smtp-reply.c — libFuzzer target: raw server bytes through the SMTP reply parser.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The input is what a server might send on one connection. It is cut into replies the way the
 * connection does it (parse, drop what was consumed, parse again), and every reply found must
 * keep the parser's promises; a broken promise aborts, which libFuzzer reports as a crash.
 */
#include <string.h>

#include "dispatch-engine.h"
#include "dispatch-smtp-reply.h"
#include "dispatch-fuzz.h"

int
LLVMFuzzerInitialize (int    *argc,
                      char ***argv)
{
  dispatch_fuzz_init ();
  return 0;
}

/* to_string() joins lines with "\n"; put the CRLFs back to get wire bytes again. */
static GString *
wire_from_string (const char *text)
{
  GString *wire = g_string_new (NULL);

  for (const char *p = text; *p != '\0'; p++)
    {
      if (*p == '\n')
        g_string_append_c (wire, '\r');
      g_string_append_c (wire, *p);
    }
  g_string_append (wire, "\r\n");
  return wire;
}

static void
check_reply (const char        *data,
             gsize              consumed,
             DispatchSmtpReply *reply)
{
  const char * const *lines = dispatch_smtp_reply_get_lines (reply);
  guint n_lines = dispatch_smtp_reply_get_n_lines (reply);
  guint code = dispatch_smtp_reply_get_code (reply);
  const char *enhanced = dispatch_smtp_reply_get_enhanced_code (reply);
  g_autofree char *text = dispatch_smtp_reply_get_text (reply);
  g_autofree char *string = dispatch_smtp_reply_to_string (reply);
  gboolean all_utf8 = TRUE;
  gsize prefix_consumed = 0;
  g_autoptr(GError) prefix_error = NULL;
  g_autoptr(DispatchSmtpReply) prefix = NULL;

  g_assert_cmpuint (code, >=, 200);
  g_assert_cmpuint (code, <=, 559);
  g_assert_cmpuint ((code / 10) % 10, <=, 5);
  g_assert_cmpuint (n_lines, >=, 1);
  g_assert_cmpuint (n_lines, <=, DISPATCH_SMTP_REPLY_MAX_LINES);
  g_assert_cmpuint (g_strv_length ((char **) lines), ==, n_lines);
  g_assert_cmpuint (dispatch_smtp_reply_get_class (reply), ==, code / 100);
  g_assert_true (dispatch_smtp_reply_is_positive (reply) + dispatch_smtp_reply_is_transient (reply) +
                 dispatch_smtp_reply_is_permanent (reply) == 1);

  for (guint i = 0; i < n_lines; i++)
    {
      g_assert_cmpuint (strlen (lines[i]), <=, DISPATCH_SMTP_REPLY_MAX_LINE_LENGTH);
      g_assert_null (strpbrk (lines[i], "\r\n"));
      all_utf8 = all_utf8 && g_utf8_validate (lines[i], -1, NULL);
    }

  /* The enhanced code is a prefix of the first line and agrees with the reply's class. */
  if (enhanced != NULL)
    {
      g_assert_true (g_str_has_prefix (lines[0], enhanced));
      g_assert_cmpint (enhanced[0] - '0', ==, (int) (code / 100));
    }

  /* Both texts reach the UI and the logs, so they must be valid UTF-8 whatever came in. */
  g_assert_true (g_utf8_validate (text, -1, NULL));
  g_assert_true (g_utf8_validate (string, -1, NULL));

  /* One byte short of the reply is "read more", never an error and never a reply: otherwise
   * the result would depend on how the network cut the bytes. */
  prefix = dispatch_smtp_reply_parse (data, consumed - 1, &prefix_consumed, &prefix_error);
  g_assert_null (prefix);
  g_assert_no_error (prefix_error);
  g_assert_cmpuint (prefix_consumed, ==, 0);

  /* What to_string() shows, put back on the wire, is the same reply (when nothing had to be
   * replaced to make it UTF-8). */
  if (all_utf8)
    {
      g_autoptr(GString) wire = wire_from_string (string);
      g_autoptr(GError) error = NULL;
      g_autoptr(DispatchSmtpReply) again = NULL;
      g_autoptr(DispatchSmtpReply) built = NULL;
      g_autofree char *built_string = NULL;
      gsize again_consumed = 0;

      again = dispatch_smtp_reply_parse (wire->str, wire->len, &again_consumed, &error);
      g_assert_no_error (error);
      g_assert_nonnull (again);
      g_assert_cmpuint (again_consumed, ==, wire->len);
      g_assert_cmpuint (dispatch_smtp_reply_get_code (again), ==, code);
      g_assert_cmpuint (dispatch_smtp_reply_get_n_lines (again), ==, n_lines);
      for (guint i = 0; i < n_lines; i++)
        g_assert_cmpstr (dispatch_smtp_reply_get_lines (again)[i], ==, lines[i]);

      built = dispatch_smtp_reply_new (code, lines);
      built_string = dispatch_smtp_reply_to_string (built);
      g_assert_cmpstr (built_string, ==, string);
      g_assert_cmpstr (dispatch_smtp_reply_get_enhanced_code (built), ==, enhanced);
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  const char *bytes = (const char *) data;
  gsize offset = 0;

  while (offset < size)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(DispatchSmtpReply) reply = NULL;
      gsize consumed = 0;

      reply = dispatch_smtp_reply_parse (bytes + offset, size - offset, &consumed, &error);
      if (reply == NULL)
        {
          g_assert_cmpuint (consumed, ==, 0);
          if (error != NULL)
            {
              g_assert_true (g_error_matches (error, DISPATCH_ERROR, DISPATCH_ERROR_PROTOCOL));
              g_assert_true (g_utf8_validate (error->message, -1, NULL));
            }
          break;
        }

      g_assert_no_error (error);
      g_assert_cmpuint (consumed, >, 0);
      g_assert_cmpuint (consumed, <=, size - offset);
      g_assert_true (bytes[offset + consumed - 1] == '\n');
      check_reply (bytes + offset, consumed, reply);
      offset += consumed;
    }

  return 0;
}
