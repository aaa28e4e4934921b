<?php
declare(strict_types=1);

namespace Bench;

/** Builds a deterministic catalog in memory, as a database-backed one would return it. */
final class ProductRepository implements Repository
{
    private ?Collection $items = null;

    public function __construct(private Config $config)
    {
    }

    public function all(): Collection
    {
        if ($this->items !== null) {
            return $this->items;
        }
        $names = ['Lamp', 'Chair', 'Table', 'Kettle', 'Mug', 'Shelf', 'Rug', 'Clock', 'Vase', 'Pillow'];
        $adjectives = ['Oak', 'Steel', 'Linen', 'Copper', 'Walnut', 'Glass', 'Wool', 'Stone'];
        $categories = [];
        foreach (['Living room', 'Kitchen', 'Bedroom', 'Office', 'Garden'] as $i => $name) {
            $categories[] = new Category($i + 1, $name, strtolower(str_replace(' ', '-', $name)));
        }
        $count = (int) $this->config->get('catalog.size', 120);
        $base = new \DateTimeImmutable('2024-01-01T00:00:00Z');
        $items = [];
        for ($i = 1; $i <= $count; $i++) {
            $reviews = [];
            for ($r = 0; $r < ($i % 5) + 1; $r++) {
                $reviews[] = new Review($i * 10 + $r, (($i * 7 + $r * 3) % 5) + 1, 'user' . (($i + $r) % 17));
            }
            $items[] = new Product(
                $i,
                $adjectives[$i % count($adjectives)] . ' ' . $names[$i % count($names)] . ' #' . $i,
                $categories[$i % count($categories)],
                new Money(990 + ($i * 137) % 25000, 'EUR'),
                ($i * 13) % 9,
                $base->modify('+' . ($i * 3) . ' days'),
                $reviews,
                array_slice(['new', 'sale', 'eco', 'handmade', 'bestseller'], $i % 3, 2),
            );
        }
        return $this->items = new Collection($items);
    }

    public function find(int $id): ?Model
    {
        return $this->all()->first(fn (Product $p) => $p->id === $id);
    }
}
