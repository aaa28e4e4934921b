<?php
declare(strict_types=1);

namespace Bench;

final class View
{
    public function __construct(private Escaper $e, private DateFormatter $dates)
    {
    }

    public function productTable(Collection $products): string
    {
        $e = $this->e;
        $out = "<table class=\"products\">\n<thead><tr><th>#</th><th>Product</th><th>Category</th>"
            . "<th>Price</th><th>Rating</th><th>Added</th><th>Tags</th></tr></thead>\n<tbody>\n";
        foreach ($products as $p) {
            /** @var Product $p */
            $stars = str_repeat('★', (int) round($p->rating())) . str_repeat('☆', 5 - (int) round($p->rating()));
            $tags = implode(' ', array_map(fn ($t) => '<span class="tag tag-' . $e->attr($t) . '">' . $e->html($t) . '</span>', $p->tags));
            $out .= '<tr data-id="' . $p->id . '"><td>' . $p->id . '</td>'
                . '<td><a href="/product/' . $p->id . '">' . $e->html($p->name) . '</a></td>'
                . '<td><a href="/c/' . $e->attr($p->category->slug) . '">' . $e->html($p->category->name) . '</a></td>'
                . '<td class="price">' . $e->html($p->price->format()) . '</td>'
                . '<td title="' . sprintf('%.1f', $p->rating()) . ' of 5 (' . count($p->reviews) . ' reviews)">' . $stars . '</td>'
                . '<td>' . $this->dates->format($p->added) . '</td>'
                . '<td>' . $tags . "</td></tr>\n";
        }
        return $out . "</tbody>\n</table>\n";
    }

    public function paginator(Paginator $p, string $base): string
    {
        $out = '<nav class="pages">';
        foreach ($p->window() as $n) {
            $out .= $n === $p->page
                ? '<strong>' . $n . '</strong> '
                : '<a href="' . $this->e->attr($base . '?page=' . $n) . '">' . $n . '</a> ';
        }
        return $out . "</nav>\n";
    }
}
