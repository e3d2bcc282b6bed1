/*
Package richexport renders a rich text's delta (crdt.Text.ToDelta, a
Quill-shaped list of inserts with attributes) as HTML or Markdown, for
flowstate export and for anyone who wants a document outside an editor.

The model is Quill's: text runs carry inline attributes (bold, italic,
underline, strike, code, link); an embed is one insert holding a value,
and {"image": url} is drawn as an image; block attributes ride on the
newline that ends a block (header 1 to 6, list "bullet", "ordered",
"checked" or "unchecked" with indent, blockquote, code-block with an
optional language). Attributes and embeds of other kinds are left out.

The document is written by whoever may edit the room, so everything is
escaped: no text or attribute value becomes markup, and links and images
keep only URLs of a few harmless schemes (http, https, mailto and tel for
links, http and https for images, and relative URLs); any other link is
dropped, keeping its text, and any other image is dropped. Op's JSON
shape is the delta's, so a delta read from JSON renders the same.
*/
package richexport
