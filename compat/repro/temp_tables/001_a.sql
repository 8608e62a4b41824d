CREATE TABLE form (slug text);
create temporary table milestone (slug text);
insert into milestone values ('a');
insert into form select slug from milestone;
