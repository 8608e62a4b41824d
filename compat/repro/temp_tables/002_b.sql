create temporary table milestone (slug text);
insert into milestone values ('b');
insert into form select slug from milestone;
