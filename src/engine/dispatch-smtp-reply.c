/* dispatch-smtp-reply.c — parse SMTP replies (RFC 5321 §4.2) from raw bytes; pure, bounded.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include "dispatch-error.h"
#include "dispatch-smtp-reply.h"

struct _DispatchSmtpReply
{
  gatomicrefcount  ref_count;

  guint            code;
  /* Raw bytes after "NNN-"/"NNN ", as the server sent them: possibly not UTF-8. */
  char           **lines;
  guint            n_lines;
  /* "5.7.8", or NULL when the first line carries none that agrees with @code. */
  char            *enhanced_code;
};

G_DEFINE_BOXED_TYPE (DispatchSmtpReply, dispatch_smtp_reply,
                     dispatch_smtp_reply_ref, dispatch_smtp_reply_unref)

/* Length of the RFC 3463 code at the start of @text ("5.7.8", "4.2.10"), or 0 when @text does
 * not start with one whose class is @reply_class. The code must end the text or be followed by
 * a space, so "5.7.8.9" or "2.0.0-foo" are ordinary text. */
static gsize
enhanced_code_length (const char *text,
                      guint       reply_class)
{
  const char *p = text;

  if (reply_class != 2 && reply_class != 4 && reply_class != 5)
    return 0;
  if (*p != (char) ('0' + reply_class))
    return 0;
  p++;

  for (guint part = 0; part < 2; part++)
    {
      guint digits = 0;

      if (*p != '.')
        return 0;
      p++;
      while (g_ascii_isdigit (*p) && digits < 3)
        {
          p++;
          digits++;
        }
      if (digits == 0)
        return 0;
    }

  if (*p != '\0' && *p != ' ')
    return 0;

  return p - text;
}

static DispatchSmtpReply *
reply_new_take (guint   code,
                char  **lines)
{
  DispatchSmtpReply *reply = g_new0 (DispatchSmtpReply, 1);
  gsize len;

  g_atomic_ref_count_init (&reply->ref_count);
  reply->code = code;
  reply->lines = lines;
  reply->n_lines = g_strv_length (lines);

  g_assert (reply->n_lines > 0);

  len = enhanced_code_length (lines[0], code / 100);
  if (len > 0)
    reply->enhanced_code = g_strndup (lines[0], len);

  return reply;
}

DispatchSmtpReply *
dispatch_smtp_reply_new (guint               code,
                         const char * const *lines)
{
  g_auto(GStrv) copy = NULL;

  g_return_val_if_fail (code >= 200 && code <= 559, NULL);
  g_return_val_if_fail ((code / 10) % 10 <= 5, NULL);

  /* Every reply has at least one line, if only an empty one. */
  if (lines == NULL || lines[0] == NULL)
    {
      copy = g_new0 (char *, 2);
      copy[0] = g_strdup ("");
    }
  else
    {
      for (guint i = 0; lines[i] != NULL; i++)
        g_return_val_if_fail (strpbrk (lines[i], "\r\n") == NULL, NULL);
      copy = g_strdupv ((char **) lines);
    }

  return reply_new_take (code, g_steal_pointer (&copy));
}

DispatchSmtpReply *
dispatch_smtp_reply_ref (DispatchSmtpReply *reply)
{
  g_return_val_if_fail (reply != NULL, NULL);

  g_atomic_ref_count_inc (&reply->ref_count);

  return reply;
}

void
dispatch_smtp_reply_unref (DispatchSmtpReply *reply)
{
  g_return_if_fail (reply != NULL);

  if (g_atomic_ref_count_dec (&reply->ref_count))
    {
      g_strfreev (reply->lines);
      g_free (reply->enhanced_code);
      g_free (reply);
    }
}

/* A short, printable excerpt of server bytes for an error message: the server controls them, so
 * they are escaped and cut before they reach a log or a dialog. */
static char *
excerpt (const char *data,
         gsize       length)
{
  g_autofree char *raw = g_strndup (data, MIN (length, 40));
  g_autofree char *escaped = g_strescape (raw, NULL);

  if (length > 40)
    return g_strconcat (escaped, "…", NULL);

  return g_steal_pointer (&escaped);
}

/*
 * One reply is one or more lines that all carry the same code; a hyphen after the code says
 * "more lines follow", a space or nothing says "this is the last one":
 *
 *   2 5 0 - s m t p . e x a m p l e . o r g \r \n     continuation line
 *   2 5 0 - S I Z E   3 5 8 8 2 5 7 7 \r \n
 *   2 5 0   S M T P U T F 8 \r \n                     last line
 *   │ │ │ │ └─ text: anything up to CRLF (we also take a bare LF)
 *   │ │ │ └─── '-' or ' ' (or CRLF right away: "250\r\n" is a last line without text)
 *   │ │ └───── 0-9
 *   │ └─────── 0-5
 *   └───────── 2-5
 *
 * Nothing is kept between calls: the caller buffers what it read and calls again with more bytes
 * when the answer is "incomplete". The caps bound that buffer: one line can never grow past
 * DISPATCH_SMTP_REPLY_MAX_LINE_LENGTH even while its end has not arrived, and a reply can never
 * announce more than DISPATCH_SMTP_REPLY_MAX_LINES lines.
 */
DispatchSmtpReply *
dispatch_smtp_reply_parse (const char  *data,
                           gsize        length,
                           gsize       *consumed,
                           GError     **error)
{
  g_autoptr(GPtrArray) lines = NULL;
  guint first_code = 0;
  gsize pos = 0;

  g_return_val_if_fail (data != NULL || length == 0, NULL);
  g_return_val_if_fail (consumed != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  *consumed = 0;
  if (length == 0)
    return NULL;

  lines = g_ptr_array_new_with_free_func (g_free);

  for (;;)
    {
      const char *line = data + pos;
      const char *newline = memchr (line, '\n', length - pos);
      const char *cr;
      gsize line_length;
      guint line_no = lines->len + 1;
      guint code;
      gboolean last;

      if (newline == NULL)
        {
          gsize pending = length - pos;

          /* A trailing CR may be the first half of the CRLF that ends a line of exactly the
           * maximum length, so it does not count yet. */
          if (pending > 0 && line[pending - 1] == '\r')
            pending--;
          if (pending > DISPATCH_SMTP_REPLY_MAX_LINE_LENGTH)
            dispatch_set_error (error, DISPATCH_ERROR_PROTOCOL, DISPATCH_SMTP_STAGE_NONE, NULL, NULL,
                                "Reply line %u is longer than %d bytes",
                                line_no, DISPATCH_SMTP_REPLY_MAX_LINE_LENGTH);
          return NULL;
        }

      line_length = newline - line;
      if (line_length > 0 && line[line_length - 1] == '\r')
        line_length--;

      if (line_length > DISPATCH_SMTP_REPLY_MAX_LINE_LENGTH)
        {
          dispatch_set_error (error, DISPATCH_ERROR_PROTOCOL, DISPATCH_SMTP_STAGE_NONE, NULL, NULL,
                              "Reply line %u is longer than %d bytes",
                              line_no, DISPATCH_SMTP_REPLY_MAX_LINE_LENGTH);
          return NULL;
        }

      /* Lines are kept as C strings, and a CR inside a line is the kind of ambiguity that
       * smuggling attacks live on: neither has a place in a reply. */
      if (memchr (line, '\0', line_length) != NULL)
        {
          dispatch_set_error (error, DISPATCH_ERROR_PROTOCOL, DISPATCH_SMTP_STAGE_NONE, NULL, NULL,
                              "Reply line %u contains a NUL byte", line_no);
          return NULL;
        }
      cr = memchr (line, '\r', line_length);
      if (cr != NULL)
        {
          dispatch_set_error (error, DISPATCH_ERROR_PROTOCOL, DISPATCH_SMTP_STAGE_NONE, NULL, NULL,
                              "Reply line %u contains a CR that does not end the line (offset %u)",
                              line_no, (guint) (cr - line));
          return NULL;
        }

      if (line_length < 3 ||
          !g_ascii_isdigit (line[0]) || !g_ascii_isdigit (line[1]) || !g_ascii_isdigit (line[2]))
        {
          g_autofree char *text = excerpt (line, line_length);

          dispatch_set_error (error, DISPATCH_ERROR_PROTOCOL, DISPATCH_SMTP_STAGE_NONE, NULL, NULL,
                              "Reply line %u does not start with a three-digit code: \"%s\"",
                              line_no, text);
          return NULL;
        }

      code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');

      if (line[0] < '2' || line[0] > '5')
        {
          dispatch_set_error (error, DISPATCH_ERROR_PROTOCOL, DISPATCH_SMTP_STAGE_NONE, NULL, NULL,
                              "Reply line %u has code %03u, whose first digit is not 2-5",
                              line_no, code);
          return NULL;
        }
      if (line[1] > '5')
        {
          dispatch_set_error (error, DISPATCH_ERROR_PROTOCOL, DISPATCH_SMTP_STAGE_NONE, NULL, NULL,
                              "Reply line %u has code %03u, whose second digit is not 0-5",
                              line_no, code);
          return NULL;
        }

      if (line_length == 3 || line[3] == ' ')
        last = TRUE;
      else if (line[3] == '-')
        last = FALSE;
      else
        {
          g_autofree char *sep = excerpt (line + 3, 1);

          dispatch_set_error (error, DISPATCH_ERROR_PROTOCOL, DISPATCH_SMTP_STAGE_NONE, NULL, NULL,
                              "Reply line %u has \"%s\" after code %03u, not a space or a hyphen",
                              line_no, sep, code);
          return NULL;
        }

      if (lines->len == 0)
        first_code = code;
      else if (code != first_code)
        {
          dispatch_set_error (error, DISPATCH_ERROR_PROTOCOL, DISPATCH_SMTP_STAGE_NONE, NULL, NULL,
                              "Reply line %u has code %03u but the reply started with %03u",
                              line_no, code, first_code);
          return NULL;
        }

      /* A continuation in the last permitted line means the reply is going to be too long:
       * stop now rather than wait for more. */
      if (!last && line_no >= DISPATCH_SMTP_REPLY_MAX_LINES)
        {
          dispatch_set_error (error, DISPATCH_ERROR_PROTOCOL, DISPATCH_SMTP_STAGE_NONE, NULL, NULL,
                              "Reply has more than %d lines", DISPATCH_SMTP_REPLY_MAX_LINES);
          return NULL;
        }

      g_ptr_array_add (lines, line_length > 4 ? g_strndup (line + 4, line_length - 4) : g_strdup (""));
      pos = (newline - data) + 1;

      if (last)
        break;
    }

  g_ptr_array_add (lines, NULL);
  *consumed = pos;

  return reply_new_take (first_code, (char **) g_ptr_array_free (g_steal_pointer (&lines), FALSE));
}

guint
dispatch_smtp_reply_get_code (const DispatchSmtpReply *reply)
{
  g_return_val_if_fail (reply != NULL, 0);

  return reply->code;
}

guint
dispatch_smtp_reply_get_class (const DispatchSmtpReply *reply)
{
  g_return_val_if_fail (reply != NULL, 0);

  return reply->code / 100;
}

gboolean
dispatch_smtp_reply_is_positive (const DispatchSmtpReply *reply)
{
  g_return_val_if_fail (reply != NULL, FALSE);

  return reply->code / 100 == 2 || reply->code / 100 == 3;
}

gboolean
dispatch_smtp_reply_is_transient (const DispatchSmtpReply *reply)
{
  g_return_val_if_fail (reply != NULL, FALSE);

  return reply->code / 100 == 4;
}

gboolean
dispatch_smtp_reply_is_permanent (const DispatchSmtpReply *reply)
{
  g_return_val_if_fail (reply != NULL, FALSE);

  return reply->code / 100 == 5;
}

const char *
dispatch_smtp_reply_get_enhanced_code (const DispatchSmtpReply *reply)
{
  g_return_val_if_fail (reply != NULL, NULL);

  return reply->enhanced_code;
}

const char * const *
dispatch_smtp_reply_get_lines (const DispatchSmtpReply *reply)
{
  g_return_val_if_fail (reply != NULL, NULL);

  return (const char * const *) reply->lines;
}

guint
dispatch_smtp_reply_get_n_lines (const DispatchSmtpReply *reply)
{
  g_return_val_if_fail (reply != NULL, 0);

  return reply->n_lines;
}

char *
dispatch_smtp_reply_get_text (const DispatchSmtpReply *reply)
{
  g_autoptr(GString) text = NULL;

  g_return_val_if_fail (reply != NULL, NULL);

  text = g_string_new (NULL);

  for (guint i = 0; i < reply->n_lines; i++)
    {
      const char *line = reply->lines[i];
      gsize start = enhanced_code_length (line, reply->code / 100);
      gsize end = strlen (line);

      /* Servers pad around the code unevenly (Gmail sends "5.7.8  https://…"); the joined text
       * should read as one sentence, so spaces at either end of a piece go. */
      while (line[start] == ' ' || line[start] == '\t')
        start++;
      while (end > start && (line[end - 1] == ' ' || line[end - 1] == '\t'))
        end--;
      if (end == start)
        continue;

      if (text->len > 0)
        g_string_append_c (text, ' ');
      g_string_append_len (text, line + start, end - start);
    }

  return g_utf8_make_valid (text->str, text->len);
}

char *
dispatch_smtp_reply_to_string (const DispatchSmtpReply *reply)
{
  g_autoptr(GString) wire = NULL;

  g_return_val_if_fail (reply != NULL, NULL);

  wire = g_string_new (NULL);

  for (guint i = 0; i < reply->n_lines; i++)
    {
      gboolean last = i + 1 == reply->n_lines;

      if (i > 0)
        g_string_append_c (wire, '\n');
      if (last && reply->lines[i][0] == '\0')
        g_string_append_printf (wire, "%03u", reply->code);
      else
        g_string_append_printf (wire, "%03u%c%s", reply->code, last ? ' ' : '-', reply->lines[i]);
    }

  return g_utf8_make_valid (wire->str, wire->len);
}
