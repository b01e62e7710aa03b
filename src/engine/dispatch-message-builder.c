/* dispatch-message-builder.c — a prepared message as a GMime tree, written once through the sink.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * GMime writes the headers, the text part and the multipart structure; RFC 2047 words and
 * RFC 2231 parameters are written here only where GMime would write "=?" as it is. Attachment
 * bodies never pass through GMime: their sources pour base64 into the sink.
 */
#include "config.h"

#include <string.h>

#include <glib/gi18n-lib.h>

#include "dispatch-attachment-source-private.h"
#include "dispatch-error.h"
#include "dispatch-gmime-private.h"
#include "dispatch-message-builder-private.h"
#include "dispatch-message-checks-private.h"
#include "dispatch-message-sink-private.h"

static void
prepared_clear (gpointer data)
{
  DispatchMessagePrepared *p = data;

  g_free (p->from);
  g_free (p->to);
  g_free (p->cc);
  g_free (p->subject);
  g_clear_pointer (&p->text, g_bytes_unref);
  g_clear_pointer (&p->date, g_date_time_unref);
  g_free (p->message_id);
  g_free (p->boundary);
  g_clear_pointer (&p->attachments, g_ptr_array_unref);
  g_free (p->envelope_from);
  g_strfreev (p->envelope_recipients);
}

void
dispatch_message_prepared_unref (DispatchMessagePrepared *p)
{
  g_atomic_rc_box_release_full (p, prepared_clear);
}

static void
set_address_charsets (InternetAddressList *list)
{
  /* Encode non-ASCII display names as UTF-8 words rather than GMime's smallest legacy
   * charset: one charset for the whole message. */
  for (int i = 0; i < internet_address_list_length (list); i++)
    {
      InternetAddress *address = internet_address_list_get_address (list, i);

      internet_address_set_charset (address, "utf-8");
      if (INTERNET_ADDRESS_IS_GROUP (address))
        set_address_charsets (internet_address_group_get_members (INTERNET_ADDRESS_GROUP (address)));
    }
}

/* RFC 2047 §5 (3): the characters that may stand for themselves in a "Q" encoded word in
 * unstructured text. */
static gboolean
is_q_safe (char c)
{
  return c != '\0' && (g_ascii_isalnum (c) || strchr ("!*+-/", c) != NULL);
}

/* The longest encoded word is 75 characters (RFC 2047 §2), "=?UTF-8?Q?" and "?=" included. */
#define ENCODED_WORD_PAYLOAD (75 - 12)

/* RFC 2047 "Q" encoded words of whole characters (§5) that decode to exactly @text, folded one
 * per line ("\n " between them). GMime writes text that
 * merely looks like an encoded word ("=?utf-8?b?…?=") as it is, so the recipient decoded it
 * (to a line break, say) instead of showing what was typed; this form leaves nothing to
 * take for an encoded word but our own. "Q" rather than "B": readers, GMime among them, join
 * adjacent words before decoding, which base64 padding would break. */
static char *
encode_header_words (const char *text)
{
  GString *out = g_string_new (NULL);
  const char *p = text;

  while (*p != '\0')
    {
      gsize payload = 0;

      g_string_append (out, out->len == 0 ? "=?UTF-8?Q?" : "\n =?UTF-8?Q?");
      while (*p != '\0')
        {
          const char *next = g_utf8_next_char (p);
          gsize need = 0;

          for (const char *c = p; c < next; c++)
            need += *c == ' ' || is_q_safe (*c) ? 1 : 3;
          if (payload > 0 && payload + need > ENCODED_WORD_PAYLOAD)
            break;

          for (; p < next; p++)
            {
              if (*p == ' ')
                g_string_append_c (out, '_');
              else if (is_q_safe (*p))
                g_string_append_c (out, *p);
              else
                g_string_append_printf (out, "=%02X", (guchar) *p);
            }
          payload += need;
        }
      g_string_append (out, "?=");
    }

  return g_string_free (out, FALSE);
}

/* An address as it goes into a header: GMime's form, except that a display name with "=?" is
 * written as our own encoded words (see above), since GMime would write it as it is. */
static void
append_address (GString         *out,
                InternetAddress *address)
{
  const char *name = internet_address_get_name (address);

  if (INTERNET_ADDRESS_IS_GROUP (address))
    {
      InternetAddressList *members = internet_address_group_get_members (INTERNET_ADDRESS_GROUP (address));

      if (name != NULL && strstr (name, "=?") != NULL)
        {
          g_autofree char *words = encode_header_words (name);

          g_string_append (out, words);
        }
      else if (name != NULL)
        {
          g_autofree char *phrase = g_mime_utils_header_encode_phrase (NULL, name, "utf-8");

          g_string_append (out, phrase);
        }
      g_string_append (out, ":");
      for (int i = 0; i < internet_address_list_length (members); i++)
        {
          g_string_append (out, i == 0 ? "\n " : ",\n ");
          append_address (out, internet_address_list_get_address (members, i));
        }
      g_string_append (out, ";");
    }
  else if (name != NULL && strstr (name, "=?") != NULL)
    {
      g_autofree char *words = encode_header_words (name);
      const char *addr = internet_address_mailbox_get_addr (INTERNET_ADDRESS_MAILBOX (address));
      InternetAddress *bare = internet_address_mailbox_new (NULL, addr);
      g_autofree char *spec = internet_address_to_string (bare, NULL, TRUE);

      g_object_unref (bare);
      g_string_append_printf (out, "%s\n <%s>", words, spec);
    }
  else
    {
      g_autofree char *text = internet_address_to_string (address, NULL, TRUE);

      g_string_append (out, text);
    }
}

static gboolean
has_literal_word (InternetAddressList *list)
{
  for (int i = 0; i < internet_address_list_length (list); i++)
    {
      InternetAddress *address = internet_address_list_get_address (list, i);
      const char *name = internet_address_get_name (address);

      if (name != NULL && strstr (name, "=?") != NULL)
        return TRUE;
      if (INTERNET_ADDRESS_IS_GROUP (address) &&
          has_literal_word (internet_address_group_get_members (INTERNET_ADDRESS_GROUP (address))))
        return TRUE;
    }

  return FALSE;
}

static void
add_addresses (GMimeMessage     *message,
               GMimeAddressType  type,
               const char       *text)
{
  g_autoptr(InternetAddressList) list = NULL;

  if (text == NULL)
    return;

  /* Parsed again from the text _prepare() validated, so no GMime object is shared between
   * writes; the result is the same list. */
  list = dispatch_message_parse_address_list (text, NULL);
  g_return_if_fail (list != NULL);

  set_address_charsets (list);
  internet_address_list_append (g_mime_message_get_addresses (message, type), list);

  if (has_literal_word (list))
    {
      static const char * const names[] = { "Sender", "From", "Reply-To", "To", "Cc", "Bcc" };
      GMimeHeader *header = g_mime_header_list_get_header (g_mime_object_get_header_list (GMIME_OBJECT (message)),
                                                           names[type]);
      g_autoptr(GString) raw = g_string_new (NULL);

      for (int i = 0; i < internet_address_list_length (list); i++)
        {
          g_string_append (raw, i == 0 ? " " : ",\n ");
          append_address (raw, internet_address_list_get_address (list, i));
        }
      g_string_append_c (raw, '\n');
      g_mime_header_set_raw_value (header, raw->str);
    }
}

/* For "View message source": the first whole lines of the encoded attachment and a note.
 * The part then carries content GMime takes as already encoded and writes as it is. */
static GMimeDataWrapper *
preview_content (DispatchAttachmentInfo  *info,
                 gsize                    max_bytes,
                 GCancellable            *cancellable,
                 GError                 **error)
{
  g_auto(DispatchAttachmentInput) input = DISPATCH_ATTACHMENT_INPUT_INIT;
  g_autofree guint8 *raw = NULL;
  g_autofree char *encoded = NULL;
  g_autofree char *size = NULL;
  g_autoptr(GString) text = NULL;
  g_autoptr(GMimeStream) stream = NULL;
  gsize raw_len = max_bytes / DISPATCH_BASE64_LINE_WIRE * DISPATCH_BASE64_LINE_RAW;
  gsize n_read = 0;
  gsize n_encoded;
  guint32 save = 0;
  int state = 0;
  GError *local_error = NULL;

  raw = g_malloc (MAX (raw_len, 1));
  if (!dispatch_attachment_input_open (&input, info->attachment, cancellable, &local_error) ||
      !dispatch_attachment_input_read_all (&input, raw, raw_len, &n_read, cancellable, &local_error))
    {
      g_propagate_error (error, dispatch_attachment_error (info->name, local_error));
      return NULL;
    }

  encoded = g_malloc (GMIME_BASE64_ENCODE_LEN (n_read));
  n_encoded = g_mime_encoding_base64_encode_close (raw, n_read, (guchar *) encoded, &state, &save);

  size = g_format_size (info->size);
  text = g_string_new_len (encoded, n_encoded);
  g_string_append_printf (text,
                          /* Translators: shown in the message source in place of the rest of
                           * a large attachment; %s is its size, e.g. “20.1 MB” */
                          _("[… the rest of this attachment (%s in all) is not shown here …]"),
                          size);
  g_string_append_c (text, '\n');

  stream = g_mime_stream_mem_new_with_buffer (text->str, text->len);

  return g_mime_data_wrapper_new_with_stream (stream, GMIME_CONTENT_ENCODING_BASE64);
}

/* RFC 2231 §7 attribute-char: what a parameter value may carry without %-encoding. */
static gboolean
is_attribute_char (char c)
{
  return g_ascii_isalnum (c) || (c != '\0' && strchr ("!#$&+-.^_`|~", c) != NULL);
}

/* One parameter, RFC 2231-encoded as UTF-8 and cut into numbered sections so that no line
 * grows long: "\tname*0*=utf-8''…;\n\tname*1*=…". */
static char *
encode_rfc2231_parameter (const char *name,
                          const char *value)
{
  GString *out = g_string_new (NULL);
  guint section = 0;
  gsize line_start = 0;

  g_string_append_printf (out, "\t%s*0*=utf-8''", name);
  for (const char *p = value; *p != '\0'; p++)
    {
      if (out->len - line_start > 64)
        {
          g_string_append_printf (out, ";\n\t%s*%u*=", name, ++section);
          line_start = out->len;
        }
      if (is_attribute_char (*p))
        g_string_append_c (out, *p);
      else
        g_string_append_printf (out, "%%%02X", (guchar) *p);
    }

  return g_string_free (out, FALSE);
}

/* GMime writes an ASCII file name as a quoted string as it is, and readers (GMime among them)
 * decode what looks like an RFC 2047 word in it: a name with "=?" goes RFC 2231-encoded
 * instead, which no reader takes for an encoded word. */
static void
set_literal_file_name (GMimeObject *part,
                       const char  *header_name,
                       const char  *value,
                       const char  *parameter,
                       const char  *file_name)
{
  GMimeHeader *header = g_mime_header_list_get_header (g_mime_object_get_header_list (part), header_name);
  g_autofree char *encoded = encode_rfc2231_parameter (parameter, file_name);
  g_autofree char *raw = g_strdup_printf (" %s;\n%s\n", value, encoded);

  g_mime_header_set_raw_value (header, raw);
}

static GMimeObject *
build_attachment_part (DispatchAttachmentInfo       *info,
                       DispatchMessageWriteContext  *ctx,
                       gsize                         preview_limit,
                       GError                      **error)
{
  g_autoptr(GMimePart) part = g_mime_part_new ();
  g_autoptr(GMimeContentType) content_type = NULL;
  g_autoptr(GMimeDataWrapper) content = NULL;

  content_type = g_mime_content_type_parse (NULL, info->mime_type);
  g_mime_object_set_content_type (GMIME_OBJECT (part), content_type);
  g_mime_object_set_disposition (GMIME_OBJECT (part), info->is_inline ? "inline" : "attachment");
  /* GMime writes a non-ASCII name as an RFC 2231 parameter (filename*=utf-8''…). */
  g_mime_part_set_filename (part, info->name);
  g_mime_part_set_content_encoding (part, GMIME_CONTENT_ENCODING_BASE64);

  if (preview_limit > 0 && dispatch_attachment_source_wire_size (info->size) > preview_limit)
    {
      content = preview_content (info, preview_limit, ctx->cancellable, error);
      if (content == NULL)
        return NULL;
    }
  else
    {
      g_autoptr(GMimeStream) source = dispatch_attachment_source_new (info->attachment, info->name, ctx);

      /* "Already base64": the source writes its own lines, and GMime must not encode. */
      content = g_mime_data_wrapper_new_with_stream (source, GMIME_CONTENT_ENCODING_BASE64);
    }

  g_mime_part_set_content (part, content);

  if (strstr (info->name, "=?") != NULL)
    {
      set_literal_file_name (GMIME_OBJECT (part), "Content-Type", info->mime_type, "name", info->name);
      set_literal_file_name (GMIME_OBJECT (part), "Content-Disposition",
                             info->is_inline ? "inline" : "attachment", "filename", info->name);
    }

  return GMIME_OBJECT (g_steal_pointer (&part));
}

static GMimeMessage *
build_message (DispatchMessagePrepared      *p,
               DispatchMessageWriteContext  *ctx,
               gsize                         preview_limit,
               GError                      **error)
{
  g_autoptr(GMimeMessage) message = g_mime_message_new (FALSE);
  g_autoptr(GMimeTextPart) text = g_mime_text_part_new_with_subtype ("plain");
  g_autoptr(GMimeStream) text_stream = NULL;
  g_autoptr(GMimeDataWrapper) text_content = NULL;
  g_autofree char *message_id = g_strdup_printf ("<%s>", p->message_id);
  GMimeObject *object = GMIME_OBJECT (message);
  gsize text_len;
  const guint8 *text_data = g_bytes_get_data (p->text, &text_len);

  add_addresses (message, GMIME_ADDRESS_TYPE_FROM, p->from);
  add_addresses (message, GMIME_ADDRESS_TYPE_TO, p->to);
  add_addresses (message, GMIME_ADDRESS_TYPE_CC, p->cc);
  if (p->subject != NULL)
    {
      g_mime_message_set_subject (message, p->subject, "utf-8");
      if (strstr (p->subject, "=?") != NULL)
        {
          g_autofree char *words = encode_header_words (p->subject);
          g_autofree char *raw = g_strconcat (" ", words, "\n", NULL);
          GMimeHeader *header = g_mime_header_list_get_header (g_mime_object_get_header_list (object),
                                                               "Subject");

          g_mime_header_set_raw_value (header, raw);
        }
    }
  g_mime_message_set_date (message, p->date);
  g_mime_object_append_header (object, "Message-ID", message_id, NULL);
  g_mime_object_append_header (object, "User-Agent", "Dispatch/" PACKAGE_VERSION, NULL);
  g_mime_object_append_header (object, "MIME-Version", "1.0", NULL);

  g_mime_object_set_content_type_parameter (GMIME_OBJECT (text), "charset", "utf-8");
  /* An empty text is a NULL pointer from GBytes, which GMime's buffer constructor refuses. */
  text_stream = text_len > 0 ? g_mime_stream_mem_new_with_buffer ((const char *) text_data, text_len)
                             : g_mime_stream_mem_new ();
  text_content = g_mime_data_wrapper_new_with_stream (text_stream, GMIME_CONTENT_ENCODING_DEFAULT);
  g_mime_part_set_content (GMIME_PART (text), text_content);
  g_mime_part_set_content_encoding (GMIME_PART (text), p->text_encoding);

  if (p->attachments->len == 0)
    {
      g_mime_message_set_mime_part (message, GMIME_OBJECT (text));
    }
  else
    {
      g_autoptr(GMimeMultipart) mixed = g_mime_multipart_new_with_subtype ("mixed");

      g_mime_multipart_set_boundary (mixed, p->boundary);
      g_mime_multipart_add (mixed, GMIME_OBJECT (text));

      for (guint i = 0; i < p->attachments->len; i++)
        {
          g_autoptr(GMimeObject) part = build_attachment_part (g_ptr_array_index (p->attachments, i),
                                                               ctx, preview_limit, error);
          if (part == NULL)
            return NULL;
          g_mime_multipart_add (mixed, part);
        }

      g_mime_message_set_mime_part (message, GMIME_OBJECT (mixed));
    }

  return g_steal_pointer (&message);
}

gboolean
dispatch_message_builder_write (DispatchMessagePrepared      *p,
                                GOutputStream                *output,
                                gboolean                      dot_stuff,
                                gsize                         preview_limit,
                                DispatchMessageSinkProgress   progress,
                                gpointer                      progress_data,
                                guint64                      *out_size,
                                GCancellable                 *cancellable,
                                GError                      **error)
{
  /* The write holds its own reference: a new _prepare() cannot free it under the writer. */
  g_autoptr(DispatchMessagePrepared) held = g_atomic_rc_box_acquire (p);
  DispatchMessageWriteContext ctx = { cancellable, NULL, NULL };
  GMimeMessage *message;
  DispatchMessageSink *sink;
  GMimeFormatOptions *options;
  gboolean ok;

  message = build_message (held, &ctx, preview_limit, error);
  if (message == NULL)
    return FALSE;

  sink = dispatch_message_sink_new (output, dot_stuff, &ctx, progress, progress_data);
  ctx.sink = sink;

  options = g_mime_format_options_new ();
  g_mime_format_options_set_newline_format (options, GMIME_NEWLINE_FORMAT_DOS);

  /* GMime ignores some of its own flush results, so success also needs a clean context. */
  ok = g_mime_object_write_to_stream (GMIME_OBJECT (message), options, GMIME_STREAM (sink)) != -1 &&
       ctx.error == NULL &&
       dispatch_message_sink_finish (sink);

  if (out_size != NULL)
    *out_size = dispatch_message_sink_get_written (sink);

  /* Nothing may point at ctx once this returns. */
  g_mime_format_options_free (options);
  g_object_unref (sink);
  g_object_unref (message);

  if (!ok)
    {
      if (ctx.error != NULL)
        g_propagate_error (error, ctx.error);
      else
        dispatch_set_error (error, DISPATCH_ERROR_FAILED, DISPATCH_SMTP_STAGE_MESSAGE, NULL, NULL,
                            _("The message could not be written."));
    }

  return ok;
}
