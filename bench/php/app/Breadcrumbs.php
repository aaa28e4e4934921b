<?php
declare(strict_types=1);

namespace Bench;

final class Breadcrumbs
{
    /** @var list<array{0: string, 1: ?string}> */
    private array $items = [];

    public function add(string $label, ?string $href): self
    {
        $this->items[] = [$label, $href];
        return $this;
    }

    /** @return list<array{0: string, 1: ?string}> */
    public function all(): array
    {
        return $this->items;
    }
}
