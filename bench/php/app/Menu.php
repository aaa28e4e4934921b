<?php
declare(strict_types=1);

namespace Bench;

final class Menu
{
    /** @param array<string, string> $items label => href */
    public function __construct(private array $items, private Escaper $e)
    {
    }

    public function render(string $active): string
    {
        $out = '<ul class="menu">';
        foreach ($this->items as $label => $href) {
            $class = $href === $active ? ' class="active"' : '';
            $out .= '<li' . $class . '><a href="' . $this->e->attr($href) . '">' . $this->e->html($label) . '</a></li>';
        }
        return $out . "</ul>\n";
    }
}
